"""AugmentationPanel without a browser: toggles, refusals, preview, non-image data, code."""

from __future__ import annotations

import time

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import nbviz
from nbviz.augment import AugmentationError, AugmentedDataset
from nbviz.views.augmentation import AugmentationPanel


def _gray_session(workers: int = 0) -> nbviz.TrainingSession:
    g = torch.Generator().manual_seed(0)
    data = TensorDataset(torch.rand(40, 1, 16, 16, generator=g), torch.arange(40) % 4)
    loader = DataLoader(data, batch_size=8, shuffle=False, num_workers=workers)
    model = nn.Sequential(nn.Flatten(), nn.Linear(256, 4))
    return nbviz.TrainingSession(model, loader, epochs=1)


def _preview_after(panel: AugmentationPanel, before: bytes) -> bytes:
    deadline = time.monotonic() + 60  # a hang guard: a loaded machine is slow
    while time.monotonic() < deadline:
        panel.refresh()
        if panel.grid.data != before:
            return panel.grid.data
        time.sleep(0.02)
    raise AssertionError("preview did not change")


@pytest.fixture
def panel():
    p = AugmentationPanel(_gray_session(), samples=3, draws=4)
    yield p
    p.close()


def test_panel_attaches_and_shows_the_fixed_samples(panel: AugmentationPanel) -> None:
    assert isinstance(panel.session.train_loader.dataset, AugmentedDataset)
    first = _preview_after(panel, b"")
    assert (panel.grid.count, panel.grid.tile_height, panel.grid.channels) == (15, 16, 1)
    assert panel.grid.labels[:2] == ["original", "draw 1"]
    # every op off: each draw equals its original
    tiles = torch.frombuffer(bytearray(first), dtype=torch.uint8).view(3, 5, 16, 16)
    assert torch.equal(tiles[:, 1:], tiles[:, :1].expand(-1, 4, -1, -1))
    assert "next batch" in panel.message.value


def test_toggling_rotation_changes_the_preview_and_the_pipeline(panel: AugmentationPanel) -> None:
    before = _preview_after(panel, b"")
    panel.checkboxes["rotation"].value = True          # as the front end would
    after = _preview_after(panel, before)
    tiles = torch.frombuffer(bytearray(after), dtype=torch.uint8).view(3, 5, 16, 16)
    assert not torch.equal(tiles[:, 1], tiles[:, 2])    # draws differ: the spread is visible
    assert panel.spec.active_ops() == ["rotation"]
    assert panel.holder.spec.active_ops() == ["rotation"]
    assert [e.description for e in panel.session.history.events_of("augmentation")] == \
        ["rotation (degrees=15) on"]
    assert "v2.RandomRotation(degrees=15.0" in panel.code()
    assert "RandomRotation" in panel.code_view.value or (panel.refresh() or "RandomRotation" in panel.code_view.value)


def test_reroll_draws_new_augmentations_of_the_same_samples(panel: AugmentationPanel) -> None:
    panel.set("noise", True, sigma=0.2)
    first = _preview_after(panel, b"")
    panel.reroll_button.click()
    second = _preview_after(panel, first)
    a = torch.frombuffer(bytearray(first), dtype=torch.uint8).view(3, 5, 16, 16)
    b = torch.frombuffer(bytearray(second), dtype=torch.uint8).view(3, 5, 16, 16)
    assert torch.equal(a[:, 0], b[:, 0]) and not torch.equal(a[:, 1:], b[:, 1:])


def test_refused_front_end_values_keep_the_old_pipeline(panel: AugmentationPanel) -> None:
    panel.set("zoom", True, scale=(0.9, 1.1))
    events = len(panel.session.history.events_of("augmentation"))
    panel.param_widgets["crop"]["size"].value = 20   # within the slider, larger than the image
    assert panel.spec.params["crop"]["size"] == 16
    panel.refresh()
    assert "refused" in panel.message.value and "larger than the 16x16 image" in panel.message.value
    assert panel.param_widgets["crop"]["size"].value == 16   # put back
    with pytest.raises(AugmentationError, match="inverted range"):
        panel.set("zoom", scale=(1.2, 0.8))
    assert panel.spec.params["zoom"]["scale"] == (0.9, 1.1)
    with pytest.raises(AugmentationError, match="cannot be negative"):
        panel.set("hflip", True, p=-0.5)
    with pytest.raises(AugmentationError, match="larger than the 16x16 image"):
        panel.set("crop", True, size=20)
    with pytest.raises(AugmentationError, match="would change the training images"):
        panel.set("crop", True, size=12)
    assert len(panel.session.history.events_of("augmentation")) == events
    assert panel.holder.spec.active_ops() == ["zoom"]


def test_gray_images_disable_saturation_and_hue_with_a_reason(panel: AugmentationPanel) -> None:
    colour = panel.param_widgets["color"]
    assert colour["saturation"].disabled and colour["hue"].disabled
    assert not colour["brightness"].disabled
    assert "one channel" in colour["hue"].tooltip
    panel.checkboxes["color"].value = True
    assert panel.spec.active_ops() == ["color"]


def test_non_image_data_leaves_the_panel_disabled() -> None:
    loader = DataLoader(TensorDataset(torch.rand(32, 6), torch.zeros(32, dtype=torch.long)), batch_size=8)
    session = nbviz.TrainingSession(nn.Linear(6, 2), loader, epochs=1)
    panel = AugmentationPanel(session)
    try:
        assert session.train_loader is loader
        assert "applies to image tensors" in panel.message.value
        assert all(box.disabled for box in panel.checkboxes.values()) and panel.reroll_button.disabled
        panel.checkboxes["rotation"].value = True
        assert session.train_loader is loader and panel.spec is None
        with pytest.raises(AugmentationError, match="disabled for this run"):
            panel.set("rotation", True)
    finally:
        panel.close()


def test_panel_with_workers_says_next_epoch_and_a_second_panel_shares_the_pipeline() -> None:
    session = _gray_session(workers=1)
    first = AugmentationPanel(session, samples=1, draws=1)
    second = AugmentationPanel(session, samples=1, draws=1)
    try:
        assert "next epoch" in first.message.value
        first.set("vflip", True)
        assert second.holder is first.holder and second.holder.spec.active_ops() == ["vflip"]
        second.refresh()
        assert second.checkboxes["vflip"].value and second.spec.active_ops() == ["vflip"]
        second.set("hflip", True)                       # builds on the first panel's change
        assert first.holder.spec.active_ops() == ["hflip", "vflip"]
        first.refresh()
        assert first.checkboxes["hflip"].value
    finally:
        first.close()
        second.close()


def test_bad_arguments_are_named() -> None:
    with pytest.raises(ValueError, match="draws must be"):
        AugmentationPanel(_gray_session(), draws=0)
    with pytest.raises(TypeError, match="TrainingSession"):
        AugmentationPanel(object())


def test_with_watch_the_panel_previews_and_exports_code_only() -> None:
    model = nn.Sequential(nn.Flatten(), nn.Linear(3 * 16 * 16, 2))
    run = nbviz.watch(model, probe_data=torch.rand(6, 3, 16, 16))
    panel = AugmentationPanel(run, samples=2, draws=2)
    try:
        assert "preview only" in panel.message.value
        before = _preview_after(panel, b"")
        panel.set("color", True, saturation=0.5, hue=0.2)
        _preview_after(panel, before)
        assert "v2.ColorJitter(" in panel.code() and "hue=0.2" in panel.code()
        assert run.history.events_of("augmentation") == []
    finally:
        panel.close()


def test_opening_the_panel_mid_epoch_says_when_changes_start() -> None:
    session = _gray_session()
    session.step(1)
    deadline = time.monotonic() + 60  # a hang guard: a loaded machine is slow
    while session.state != "paused":
        assert time.monotonic() < deadline
        time.sleep(0.01)
    panel = AugmentationPanel(session, samples=1, draws=1)
    try:
        panel.refresh()
        assert "opened during epoch 1" in panel.message.value and "from epoch 2" in panel.message.value
        assert isinstance(session.train_loader.dataset, AugmentedDataset)
    finally:
        panel.close()
        session.stop()


def test_an_open_panel_with_nothing_on_leaves_training_bit_identical() -> None:
    def run(with_panel: bool) -> list[torch.Tensor]:
        torch.manual_seed(0)
        g = torch.Generator().manual_seed(0)
        data = TensorDataset(torch.rand(48, 1, 16, 16, generator=g), torch.arange(48) % 4)
        loader = DataLoader(data, batch_size=8, shuffle=True, generator=torch.Generator().manual_seed(1))
        model = nn.Sequential(nn.Flatten(), nn.Dropout(0.3), nn.Linear(256, 4))
        session = nbviz.TrainingSession(model, loader, epochs=2)
        panel = AugmentationPanel(session, samples=2, draws=2) if with_panel else None
        session.start()
        if panel is not None:
            panel.reroll()            # preview draws (at a batch boundary) while training runs
            panel._preview_future.result(timeout=60)
            panel.set("erasing", False)   # a change that changes nothing reaches the loop too
        session.wait(timeout=60)
        if panel is not None:
            panel.close()
        return [p.detach().clone() for p in model.parameters()]

    plain, viewed = run(False), run(True)
    assert all(torch.equal(a, b) for a, b in zip(plain, viewed, strict=True))
