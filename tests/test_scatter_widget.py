"""ScatterWidget: binary traits, validation of front-end values, click messages."""

from __future__ import annotations

import numpy as np
import pytest
import traitlets

from nbviz.widgets.scatter import ScatterWidget


def from_front_end(w: ScatterWidget, data: dict) -> None:
    """Deliver a comm message the way ipywidgets does when the browser sends one."""
    w._handle_msg({"content": {"data": data}, "buffers": []})


def click(w: ScatterWidget, content: object) -> None:
    from_front_end(w, {"method": "custom", "content": content})


def make(n: int = 50) -> ScatterWidget:
    w = ScatterWidget()
    w.set_positions(np.random.default_rng(0).normal(size=(n, 2)))
    return w


def test_positions_are_float32_bytes_and_counted():
    w = make(50)
    assert w.n_points == 50
    assert len(w.positions) == 50 * 2 * 4
    xy = np.frombuffer(w.positions, dtype=np.float32).reshape(-1, 2)
    assert xy.shape == (50, 2)


def test_positions_refuse_bad_shapes_and_values():
    w = make(10)
    with pytest.raises(ValueError, match=r"shape \(n, 2\)"):
        w.set_positions(np.zeros((10, 3)))
    with pytest.raises(traitlets.TraitError, match="NaN"):
        w.set_positions(np.full((10, 2), np.nan))
    with pytest.raises(traitlets.TraitError, match="whole number"):
        w.positions = b"\x00" * 7
    assert w.n_points == 10  # previous value kept


def test_jump_disables_animation_flag():
    w = make(10)
    before = w.jump_count
    w.set_positions(np.zeros((10, 2)), animate=False)
    assert w.jump_count == before + 1
    w.set_positions(np.ones((10, 2)))
    assert w.jump_count == before + 1


def test_selected_from_front_end_is_validated_and_normalised():
    w = make(20)
    w.selected = [5, 3, 3]
    assert w.selected == [3, 5]
    with pytest.raises(traitlets.TraitError, match="outside 0..19"):
        w.selected = [1, 25]
    assert w.selected == [3, 5]
    with pytest.raises(traitlets.TraitError):
        w.selected = [True]


def test_shrinking_positions_clears_out_of_range_selection():
    w = make(20)
    w.selected = [19]
    w.set_positions(np.zeros((5, 2)))
    assert w.selected == []


def test_colors_categories_and_values():
    w = make(4)
    w.set_colors(categories=[0, 1, 2, 1], names=["a", "b", "c"], title="label")
    assert w.color_mode == "category"
    assert np.frombuffer(w.color_categories, np.uint8).tolist() == [0, 1, 2, 1]
    assert w.color_names == ["a", "b", "c"]
    w.set_colors(values=[0.1, 0.5, 2.0, 1.0], title="loss")
    assert w.color_mode == "value"
    assert np.frombuffer(w.color_values, np.float32).tolist() == pytest.approx([0.1, 0.5, 2.0, 1.0])
    with pytest.raises(ValueError, match="exactly one"):
        w.set_colors()
    with pytest.raises(ValueError, match="0..255"):
        w.set_colors(categories=[300, 0, 0, 0])


def test_info_buffers():
    w = make(3)
    w.set_info(labels=[1, 2, 3], predictions=[1, 0, 3], confidences=[0.9, 0.5, 0.7], class_names=list("abcd"))
    assert np.frombuffer(w.labels, np.int32).tolist() == [1, 2, 3]
    assert np.frombuffer(w.confidences, np.float32)[0] == pytest.approx(0.9)
    assert w.class_names == list("abcd")
    with pytest.raises(ValueError, match="one value per point"):
        w.set_info(labels=np.zeros((3, 2)))


def test_thumbnails_nchw_float_to_uint8_atlas():
    w = make(6)
    images = np.linspace(-1, 1, 6 * 1 * 8 * 8, dtype=np.float32).reshape(6, 1, 8, 8)
    w.set_thumbnails(images)
    assert w.thumb_shape == [8, 8, 1]
    atlas = np.frombuffer(w.thumbnails, np.uint8)
    assert atlas.size == 6 * 64 and atlas.min() == 0 and atlas.max() == 255
    rgb = np.zeros((6, 3, 16, 16), np.uint8)
    w.set_thumbnails(rgb, max_bytes=6 * 8 * 8 * 3)
    assert w.thumb_shape == [8, 8, 3]  # downsampled to fit
    with pytest.raises(ValueError, match="MiB even at"):
        w.set_thumbnails(np.zeros((1000, 3, 8, 8), np.uint8), max_bytes=100)
    with pytest.raises(ValueError, match="channels"):
        w.set_thumbnails(np.zeros((2, 5, 7, 7)))


def test_click_message_is_validated_before_handlers_run():
    w = make(10)
    got: list[int] = []
    w.on_click(got.append)
    click(w, {"type": "click", "index": 4})
    click(w, {"type": "click", "index": 40})
    click(w, {"type": "click", "index": "1; rm"})
    click(w, {"type": "other", "index": 1})
    assert got == [4]
    w.on_click(got.append, remove=True)
    click(w, {"type": "click", "index": 2})
    assert got == [4]


def test_point_size_and_height_bounds():
    w = make(2)
    with pytest.raises(traitlets.TraitError):
        w.point_size = 0
    with pytest.raises(traitlets.TraitError):
        w.height = -1
    with pytest.raises(traitlets.TraitError):
        w.thumb_shape = [8, 8, 2]


def test_front_end_state_update_with_bad_selection_keeps_old_value():
    w = make(10)
    from_front_end(w, {"method": "update", "state": {"selected": [2, 1]}, "buffer_paths": []})
    assert w.selected == [1, 2]
    from_front_end(w, {"method": "update", "state": {"selected": [99]}, "buffer_paths": []})
    assert w.selected == [1, 2]  # refused (ipywidgets logs the TraitError), old value kept
    from_front_end(w, {"method": "update", "state": {"point_size": 7.0}, "buffer_paths": []})
    assert w.point_size == 7.0
