"""Playground clicks on several threads at once (ipykernel 7 subshells), while it trains:
observers only check and queue; the run's UI pump rebuilds and writes every widget."""

from __future__ import annotations

import random
import threading

from helpers import wait_until

from nbviz.views.context import context_for
from nbviz.views.playground import Playground
from nbviz.views.playground_model import FEATURES


def test_a_click_storm_on_several_threads_rebuilds_only_in_the_pump_and_ends_consistent():
    play = Playground(dataset="xor", hidden=[3], n=200)
    writers: set[str] = set()

    def record(_change) -> None:
        writers.add(threading.current_thread().name)

    for widget, name in ((play.views_box, "children"), (play.units_box, "children"), (play.message, "value"),
                         (play.code, "value")):
        widget.observe(record, names=name)
    play.play_button.click()
    errors: list[BaseException] = []
    bad = [None, True, float("nan"), -1, "x", 10**9]

    def clicks(seed: int) -> None:
        rng = random.Random(seed)
        try:
            for _ in range(60):
                action = rng.randrange(9)
                if action == 0:
                    play.dataset.set_state({"value": rng.choice(["xor", "moons", "circles", *bad])})
                elif action == 1:
                    box = play.feature_boxes[rng.choice(list(FEATURES))]
                    box.set_state({"value": rng.choice([True, False, None])})
                elif action == 2:
                    play.add_layer.click()
                elif action == 3:
                    play.remove_layer.click()
                elif action == 4:
                    fields = list(play.units_box.children)
                    if fields:
                        rng.choice(fields).set_state({"value": rng.choice([1, 4, 16, 0, 99, None])})
                elif action == 5:
                    play.lr.set_state({"value": rng.choice([0.01, 0.1, 0.3, *bad])})
                elif action == 6:
                    rng.choice([play.play_button, play.pause_button, play.step_button])._click_handlers(
                        play.play_button)
                elif action == 7:
                    play.noise.set_state({"value": rng.choice([0.0, 0.2, 0.45, *bad])})
                else:
                    play.export_button.click()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=clicks, args=(seed,), name=f"subshell-{seed}") for seed in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(300)
    try:
        assert not errors, errors[:3]
        play.settle(120)
        config = play.config
        assert config == play._wanted, f"{config}\n{play._wanted}"
        model = play.session.model
        assert model[0].names == config.features
        assert [m.out_features for m in model if hasattr(m, "out_features")] == [*config.hidden, 2]
        assert [field.value for field in play.units_box.children] == config.hidden
        assert [name for name, box in play.feature_boxes.items() if box.value] == config.features
        assert play.diagram is not None and play.diagram.sizes == [len(config.features), *config.hidden, 2]
        # only the pump wrote the playground's own output widgets (controls aside)
        assert writers <= {"nbviz-ui-pump"}, writers
        assert context_for(play.session).pump.failures == 0
        play.play_button.click()
        start = play.session.step_count
        wait_until(lambda: play.session.step_count > start + 2, 60)
    finally:
        play.close()
    assert not play.session.loop_active
