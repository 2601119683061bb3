"""Long runs stay bounded: history, events and recorders keep the same size however many steps.

Behaviour only (sizes and contents), no timing: bench/long_run.py measures the cost per step.
"""

from __future__ import annotations

import threading

import torch
from helpers import wait_until
from torch import nn

import nbviz
from nbviz.devtools import CommRecorder
from nbviz.probes.param_stats import ParamStats
from nbviz.session.history import History
from nbviz.session.session import _AccuracyCounter
from nbviz.views.context import context_for


def tiny_batches(n: int = 4) -> list[tuple[torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(0)
    return [(torch.randn(8, 2, generator=g), torch.randint(0, 2, (8,), generator=g))
            for _ in range(n)]


def tiny_model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(2, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 2))


def test_history_series_stay_within_capacity_over_100k_steps():
    history = History(capacity=64)
    sizes = []
    for step in range(1, 100_001):
        history.log(step, train_loss=1.0 / step, lr=0.1)
        if step % 10_000 == 0:
            sizes.append(history.nbytes())
    assert len(set(sizes)) == 1  # the same memory at 10k steps as at 100k
    x, y = history.get("train_loss")
    assert 32 <= len(x) <= 65
    assert x[0] < 2_100 and x[-1] > 97_000  # still covers the whole run (buckets averaged)
    assert history.series["train_loss"].count == 100_000


def test_events_are_bounded_keeping_the_first_and_the_latest():
    history = History(max_events=100)
    for i in range(5_000):
        history.add_event(i, "epoch", f"epoch {i}")
    assert len(history.events) == 100
    assert history.dropped_events == 4_900
    assert history.events[0].step == 0 and history.events[-1].step == 4_999


def test_param_stats_ring_stays_bounded_while_sampling_every_step():
    model = tiny_model()
    session = nbviz.TrainingSession(model, tiny_batches(), epochs=100, tune_allocator=False)
    stats = ParamStats(model, every=1, capacity=8).attach(session)
    session.start()
    session.wait()
    assert stats.samples_taken == 400
    snapshots = stats.snapshots()
    assert len(snapshots) <= 9
    assert snapshots[-1].step == 400 and snapshots[0].step == 1  # the whole run, evenly thinned
    stats.detach()


def test_a_long_session_keeps_history_and_events_bounded():
    session = nbviz.TrainingSession(tiny_model(), tiny_batches(), epochs=1_500,
                                    history_capacity=16, tune_allocator=False)
    session.history.max_events = 50
    session.start()
    session.wait()
    assert session.step_count == 6_000
    for name, series in session.history.series.items():
        assert len(series) <= 17, name
    assert session.history.series["train_loss"].count == 6_000
    assert len(session.history.events) == 50  # one "epoch" event each of 1,500 epochs
    assert session.history.events[-1].data["epoch"] == 1_500


def test_dashboard_recorders_and_queues_stay_bounded_over_many_steps():
    session = nbviz.TrainingSession(tiny_model(), tiny_batches(), epochs=1_000,
                                    history_capacity=16, tune_allocator=False)
    with CommRecorder():
        board = nbviz.Dashboard(session, tabs=["Weights", "Gradients"])
        try:
            board.view("Weights")
            board.tabs.selected_index = 0
            stats = context_for(session)._stats
            assert stats is not None
            stats.every, stats.capacity = 1, 8  # sample every step: the ring must still thin
            session.start()
            session.wait()
            assert session.step_count == 4_000
            assert stats.samples_taken >= 3_000
            assert len(stats.snapshots()) <= 9
            assert session.control._commands.empty()
            pump = context_for(session).pump
            wait_until(lambda: pump.ticks > 0)
            assert len(pump._last) <= len(board.views) + 1
            for view in board.views.values():
                assert len(getattr(view, "_answers", [])) <= 1
        finally:
            board.close()


def test_accuracy_counter_matches_the_exact_count_and_keeps_few_tensors():
    g = torch.Generator().manual_seed(0)
    counter, expected = _AccuracyCounter(flush=3), 0
    for _ in range(10):
        outputs, targets = torch.randn(16, 5, generator=g), torch.randint(0, 5, (16,), generator=g)
        counter.add(outputs, targets)
        expected += int((outputs.argmax(1) == targets).sum())
        assert len(counter._pending) < 3
    assert counter.total() == expected


def test_norm_buffers_are_found_again_after_a_command_swaps_a_layer():
    model = tiny_model()
    session = nbviz.TrainingSession(model, tiny_batches(), epochs=1, tune_allocator=False)
    before = session._norm_buffers()
    assert len(before) == 3 and before[0] is model[1].running_mean
    done = threading.Event()
    new = nn.BatchNorm1d(8)

    def swap() -> None:
        model[1] = new
        done.set()

    session.control.submit(swap)
    session.control.run_pending()
    assert done.is_set()
    assert session._norm_buffers()[0] is new.running_mean
