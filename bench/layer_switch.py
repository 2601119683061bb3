"""Kernel-side cost of switching layer or channel in the feature-map view (budget <= 30 ms).

Model: SmallCNN(width=64), whose first block outputs 64 channels at 28x28. Switching layer
captures the new layer for the selected probe image (one forward pass of ONE image, at a
batch boundary, hooks only for that pass), scales 64 tiles to uint8 and hands one buffer to
the widget; switching channel slices the cached tiles. Baseline, in the same process: one
plain no_grad forward pass of the view's probe batch.

Run: .venv/bin/python bench/layer_switch.py
"""

from __future__ import annotations

import statistics
import time

import torch
from torch.utils.data import DataLoader, TensorDataset

import nbviz
from nbviz.models import SmallCNN
from nbviz.views.feature_maps import FeatureMaps

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
    session.pump.unregister(view)  # measure our refresh calls only, not the pump's
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


if __name__ == "__main__":
    main()
