"""The UI pump wakes as rarely as its views allow and answers a poked view at once."""

from __future__ import annotations

import math

import pytest

from nbviz.views.pump import UiPump, on_grid


class FakeView:
    def __init__(self, interval: float) -> None:
        self.active = True
        self.min_interval = interval
        self.refreshed: list[float] = []
        self.clock: FakeClock | None = None

    def tick(self) -> None:
        assert self.clock is not None
        self.refreshed.append(self.clock.now)


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _pump_with(*views: FakeView, start: float = 1000.0) -> tuple[UiPump, FakeClock]:
    clock = FakeClock(start)
    pump = UiPump(clock=clock)
    for view in views:
        view.clock = clock
        pump._views.add(view)  # no thread: the test drives the ticks
    return pump, clock


def _run(pump: UiPump, clock: FakeClock, seconds: float) -> int:
    """Tick as the pump thread does (sleeping what tick() returns); returns the wake-ups."""
    end, wakes = clock.now + seconds, 0
    while clock.now < end:
        sleep = pump.tick()
        wakes += 1
        clock.now += sleep + 0.003  # a timed wait ends a little late
    return wakes


@pytest.mark.parametrize("last", [0.0, 0.013, 0.249, 0.26, 1000.49, 1000.74])
@pytest.mark.parametrize("period", [0.1, 0.25, 0.5, 0.3])
def test_the_next_refresh_is_on_the_period_grid_about_a_period_later(last, period):
    due = on_grid(last, period)
    assert math.isclose(due / period, round(due / period), abs_tol=1e-9)
    assert last + period / 2 <= due + 1e-12 < last + 1.5 * period


def test_views_of_multiple_intervals_share_wake_ups_whatever_their_phase():
    fast, slow, slower = FakeView(0.25), FakeView(0.5), FakeView(0.5)
    pump, clock = _pump_with(fast)
    clock.now += 0.11  # registered out of phase, as views built on later ticks are
    pump._views.add(slow)
    slow.clock = clock
    clock.now += 0.07
    pump._views.add(slower)
    slower.clock = clock
    wakes = _run(pump, clock, 20.0)
    # each keeps its rate, and the 0.5 s views ride on the 0.25 s view's wake-ups
    assert 78 <= len(fast.refreshed) <= 82 and 38 <= len(slow.refreshed) <= 42
    assert 38 <= len(slower.refreshed) <= 42
    assert wakes <= 84  # up to 160 when each view woke the pump on its own schedule
    gaps = [b - a for a, b in zip(slow.refreshed[2:-1], slow.refreshed[3:], strict=True)]
    assert min(gaps) >= 0.49 and max(gaps) <= 0.51


def test_a_hidden_view_costs_no_wake_up():
    shown, hidden = FakeView(0.5), FakeView(0.1)
    hidden.active = False
    pump, clock = _pump_with(shown, hidden)
    wakes = _run(pump, clock, 10.0)
    assert not hidden.refreshed and wakes <= 22


def test_a_poked_view_refreshes_at_the_next_wake_up_and_no_other_view_does():
    bar, other = FakeView(0.5), FakeView(0.5)
    pump, clock = _pump_with(bar, other)
    pump.tick()
    assert len(bar.refreshed) == len(other.refreshed) == 1
    clock.now += 0.03
    pump.poke(bar)  # a click 30 ms after a refresh: not before the pump's own interval...
    pump.tick()
    assert len(bar.refreshed) == 1
    clock.now += 0.08
    pump.tick()  # ...then at once, 0.4 s before its interval would have let it
    assert len(bar.refreshed) == 2 and len(other.refreshed) == 1
    clock.now += 0.05
    pump.tick()  # once: afterwards it is back on its own interval
    assert len(bar.refreshed) == 2


def test_a_broken_view_does_not_stop_the_others():
    class Broken(FakeView):
        def tick(self) -> None:
            raise RuntimeError("boom")

    good, broken = FakeView(0.25), Broken(0.25)
    pump, clock = _pump_with(broken, good)
    _run(pump, clock, 1.0)
    assert len(good.refreshed) >= 4 and pump.failures >= 4
