"""Kernel-side cost of switching layer or channel in the feature-map view (budget <= 30 ms).

Model: SmallCNN(width=64), whose first block outputs 64 channels at 28x28. Switching layer
captures the new layer for the selected probe image (one forward pass of ONE image, at a
batch boundary, hooks only for that pass), scales 64 tiles to uint8 and hands one buffer to
the widget; switching channel slices the cached tiles. Baseline, in the same process: one
plain no_grad forward pass of the view's probe batch.

Also prints the observer effect of these views: training samples/s of SmallCNN with the
feature-map and structure views open and refreshing (through the UI pump, as in a notebook)
against the same session with no view, alternating runs in one process (budget >= 0.97).

Run: .venv/bin/python bench/layer_switch.py
"""

from __future__ import annotations

import statistics
import time

import torch
from torch.utils.data import DataLoader, TensorDataset

import nbviz
from nbviz.models import SmallCNN
from nbviz.probes import capture
from nbviz.views.context import context_for
from nbviz.views.feature_maps import FeatureMaps
from nbviz.views.structure import ModelStructure

PROBE_SIZE = 16
REPEATS = 40


def median_ms(fn, repeats: int = REPEATS) -> float:
    fn()  # warm up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> None:
    torch.set_num_threads(1)
    torch.manual_seed(0)
    data = TensorDataset(torch.rand(256, 1, 28, 28), torch.randint(0, 10, (256,)))
    session = nbviz.TrainingSession(SmallCNN(width=64), DataLoader(data, batch_size=64), epochs=1)
    view = FeatureMaps(session, layer="features.0.0", probe_size=PROBE_SIZE)
    context_for(session).pump.unregister(view)  # measure our refresh calls only, not the pump's
    view.refresh(wait=True)
    assert view.grid.count == 64 and view.grid.tile_height == 28, "expected a 64x28x28 layer"

    inputs, _ = session.probe_batch(PROBE_SIZE)
    model = session.model.eval()

    def plain_forward() -> None:
        with torch.no_grad():
            model(inputs)

    baseline = median_ms(plain_forward)
    layers = iter(["features.0.2", "features.0.0"] * REPEATS * 2)
    channels = iter(list(range(1, 64)) * REPEATS)

    def switch_layer() -> None:
        view.select(layer=next(layers))
        view.refresh(wait=True)

    def switch_channel() -> None:
        view.select(channel=next(channels))
        view.refresh(wait=True)

    captures = view.captures
    layer_ms = median_ms(switch_layer)
    assert view.captures > captures
    captures = view.captures
    channel_ms = median_ms(switch_channel)
    assert view.captures == captures, "a channel switch must not rerun the model"
    view.close()

    print(f"plain forward pass of the probe batch ({PROBE_SIZE} x 1x28x28, SmallCNN width 64): {baseline:6.2f} ms")
    for what, ms in (("layer switch (64x28x28)", layer_ms), ("channel switch", channel_ms)):
        verdict = "within" if ms <= 30 else "OVER"
        print(f"{what:>28}: {ms:6.2f} ms kernel side = {ms / baseline:6.3f}x the forward pass "
              f"({verdict} the 30 ms budget)")


def resnet_switch() -> None:
    """Layer switch on torchvision resnet18 (weights=None) at 3x224x224, where the probe pass
    stops after the selected layer."""
    import torchvision

    torch.manual_seed(0)
    data = TensorDataset(torch.rand(8, 3, 224, 224), torch.randint(0, 10, (8,)))
    session = nbviz.TrainingSession(torchvision.models.resnet18(weights=None, num_classes=10),
                                    DataLoader(data, batch_size=4), epochs=1)
    view = FeatureMaps(session, layer="layer1.0.conv1", probe_size=4)
    context_for(session).pump.unregister(view)
    view.refresh(wait=True)
    inputs, _ = session.probe_batch(4)
    model = session.model.eval()

    def plain_forward() -> None:
        with torch.no_grad():
            model(inputs)

    baseline = median_ms(plain_forward, 5)
    layers = iter(["layer1.0.conv2", "layer1.0.conv1"] * 20)

    def switch_layer() -> None:
        view.select(layer=next(layers))
        view.refresh(wait=True)

    ms = median_ms(switch_layer, 10)
    view.close()
    verdict = "within" if ms <= 30 else "OVER"
    print(f"resnet18 3x224x224: plain forward of the probe batch (4 images) {baseline:6.2f} ms; "
          f"layer switch (64x56x56) {ms:6.2f} ms = {ms / baseline:6.3f}x ({verdict} the 30 ms budget)")


class _Timed:
    """Adds up the wall time of calls to a function (probe work, view refreshes)."""

    def __init__(self, fn) -> None:
        self.fn, self.seconds, self.calls = fn, 0.0, 0

    def __call__(self, *args, **kwargs):
        start = time.perf_counter()
        try:
            return self.fn(*args, **kwargs)
        finally:
            self.seconds += time.perf_counter() - start
            self.calls += 1


def samples_per_second(with_views: bool, steps: int = 150, batch: int = 64) -> tuple[float, float, float, int]:
    """(samples/s, training seconds, seconds of probe captures in the training thread,
    seconds of view refreshes in the pump thread) for one run."""
    torch.manual_seed(0)
    data = TensorDataset(torch.rand(steps * batch, 1, 28, 28), torch.randint(0, 10, (steps * batch,)))
    session = nbviz.TrainingSession(SmallCNN(), DataLoader(data, batch_size=batch), epochs=1)
    views = [FeatureMaps(session, probe_size=PROBE_SIZE), ModelStructure(session)] if with_views else []
    capture_timer = _Timed(capture.capture_activations)
    refresh_timers = []
    for view in views:
        view.refresh()
        refresh_timers.append(_Timed(view.refresh))
        view.refresh = refresh_timers[-1]  # the pump calls view.refresh()
    session.step(3)  # warm up, then pause
    deadline = time.monotonic() + 120
    while not (session.state == "paused" and session.step_count == 3):
        if time.monotonic() > deadline:
            raise RuntimeError(f"warm-up did not pause: state {session.state}, step {session.step_count}")
        time.sleep(0.005)
    capture.capture_activations = capture_timer
    try:
        start = time.perf_counter()
        session.resume()
        session.wait()
        elapsed = time.perf_counter() - start
    finally:
        capture.capture_activations = capture_timer.fn
    done = session.step_count - 3
    for view in views:
        view.close()
    if with_views:
        assert capture_timer.calls > 1, "the feature maps should have refreshed while training"
    return done * batch / elapsed, elapsed, capture_timer.seconds, sum(t.seconds for t in refresh_timers)


def observer_effect(rounds: int = 4) -> None:
    ratios, probe_share, pump_share = [], [], []
    for _ in range(rounds):  # pairs run back to back, so drift on a shared machine hits both alike
        plain = samples_per_second(False)[0]
        viewed, elapsed, probe_s, pump_s = samples_per_second(True)
        ratios.append(viewed / plain)
        probe_share.append(probe_s / elapsed)
        pump_share.append(pump_s / elapsed)
    ratio = statistics.median(ratios)
    verdict = "within" if ratio >= 0.97 else "BELOW"
    print(f"training SmallCNN with feature maps + structure open vs none: samples/s ratio {ratio:.3f} "
          f"(median of {rounds} back-to-back pairs: {', '.join(f'{r:.3f}' for r in ratios)}; {verdict} the 0.97 budget)")
    print(f"  probe captures ran in the training thread for {statistics.median(probe_share):.2%} of training "
          f"time, view refreshes in the pump thread for {statistics.median(pump_share):.2%}")


if __name__ == "__main__":
    main()
    resnet_switch()
    observer_effect()
