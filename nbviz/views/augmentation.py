"""AugmentationPanel: a toggle and parameter controls per augmentation, a live preview, and
the wiring that sends the session's training data through the pipeline chosen here.

Example:
    >>> panel = nbviz.AugmentationPanel(session)
    >>> panel                      # toggle ops, watch the preview, then start training
    >>> panel.set("rotation", True, degrees=20)
    >>> print(panel.code())        # the same pipeline as torchvision code
"""

from __future__ import annotations

import html
import threading
from concurrent.futures import Future
from typing import Any

import ipywidgets as widgets

from ..augment import preview
from ..augment.ops import OPS, AugmentationError, Op, Param
from ..augment.pipeline import PipelineSpec, image_info
from ..augment.wiring import AugmentedDataset, PipelineHolder, attach, change, when_effective
from ..session.base import SessionBase
from ..widgets import guarded
from ..widgets.image_grid import ImageGrid
from .base import LiveView, message_html


def _row_layout() -> widgets.Layout:
    """A new layout per row: widgets inside a view are closed with it, so none is shared."""
    return widgets.Layout(align_items="center", flex_flow="row wrap")


def _param_widget(op: Op, param: Param, value: Any, colour: bool) -> widgets.Widget:
    common = dict(description=param.label, continuous_update=False,
                  style={"description_width": "initial"}, layout=widgets.Layout(width="250px"))
    if param.kind == "range":
        hi = min(param.high, 2.0) if op.name == "zoom" else param.high
        return widgets.FloatRangeSlider(value=value, min=param.low, max=hi, step=param.step,
                                        readout_format=".2f", **common)
    if param.kind == "int":
        hi = int(min(param.high, 64))
        return guarded.IntSlider(value=value, min=int(param.low), max=max(hi, int(value)),
                                 step=int(param.step), **common)
    disabled = param.colour_only and not colour
    w = guarded.FloatSlider(value=value, min=param.low, max=param.high, step=param.step,
                            readout_format=".2f", disabled=disabled, **common)
    if disabled:
        w.tooltip = f"{param.label} needs 3-channel colour images; these images have one channel"
    return w


class AugmentationPanel(LiveView):
    """Augmentation toggles with a live preview, wired into ``session``'s training data.

    Args:
        session: the run whose training loader (a torch DataLoader over image tensors) is
            sent through the pipeline.
        samples: how many fixed training samples the preview shows (rows).
        draws: how many random draws of each sample it shows side by side (columns).
        seed: seeds the training augmentation (per sample and epoch).

    A change applies from the next batch when the loader has no worker processes, from the
    next epoch when it has (the panel says which); each change is a history event of kind
    ``"augmentation"``. Refused settings keep the pipeline in force and say why.
    """

    min_interval = 0.2

    def __init__(self, session: SessionBase, samples: int = 4, draws: int = 5, seed: int = 0) -> None:
        for name, value, top in (("samples", samples, 16), ("draws", draws, 12)):
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= top:
                raise ValueError(f"{name} must be a whole number in 1..{top}, got {value!r}")
        super().__init__(session)
        self.header = widgets.HTML("<b>Augmentation</b>")
        self.message = widgets.HTML()
        self.message.add_class("nbviz-augment-message")
        self.grid = ImageGrid(tile_size=64, columns=draws + 1)
        self.grid.add_class("nbviz-augment-preview")
        self.reroll_button = widgets.Button(description="Reroll", icon="random",
                                            tooltip="Draw new random augmentations of the same samples")
        self.reroll_button.add_class("nbviz-augment-reroll")
        self.code_view = widgets.HTML()
        self.checkboxes: dict[str, widgets.Checkbox] = {}
        self.param_widgets: dict[str, dict[str, widgets.Widget]] = {}
        self._lock = threading.Lock()
        self._syncing = False
        self._notice: tuple[str, str] | None = None
        self._widgets_stale = False
        self._preview_seed = 1000 + int(seed)
        self._preview_version = 0
        self._preview_asked = False
        self._preview_future: Future | None = None  # the newest preview asked for
        self._n_samples, self._draws = samples, draws
        self.holder: PipelineHolder | None = None
        self._spec: PipelineSpec | None = None
        self._attached_in_epoch: int | None = None
        self.reason_disabled = ""
        rows = self._setup(self.session, seed)
        self.children = [self.header, self.message, *rows, widgets.HBox([self.reroll_button]),
                         self.grid, self.code_view]
        self.reroll_button.on_click(lambda _b: self.reroll())
        self.refresh()

    # ---- set-up ----------------------------------------------------------------------------
    def _setup(self, session: SessionBase, seed: int) -> list[widgets.Widget]:
        key = getattr(getattr(session, "batch_format", None), "input_key", "input")
        info = None
        try:
            self._samples = preview.fixed_samples(session, self._n_samples, key)
            info = image_info(self._samples[0])
            if not hasattr(session, "train_loader"):  # nbviz.watch(): the user's loop loads data
                self._spec = PipelineSpec.default(info)
                self.effective = ("preview only: nbviz.watch() runs your own training loop, so nbviz "
                                  "cannot change its data; apply the transform from panel.code() "
                                  "in your dataset")
            else:
                existing = getattr(session.train_loader, "dataset", None)
                if isinstance(existing, AugmentedDataset):  # another panel attached: share it
                    self.holder = existing.holder
                else:
                    self.holder = PipelineHolder(PipelineSpec.default(info), seed=seed)
                    if session.loop_active:  # the running epoch keeps the loader it started with
                        self._attached_in_epoch = session.epoch
                    attach(session, self.holder).result(timeout=60)
                self._spec = self.holder.requested
                self.effective = when_effective(session.train_loader)
        except (AugmentationError, ValueError, TypeError) as exc:
            self.reason_disabled = str(exc)
            self._spec = PipelineSpec.default(info) if info is not None else None
            self.effective = ""
        spec = self._spec
        colour = spec is not None and spec.info.channels == 3
        rows = []
        for op in OPS:
            values = spec.params[op.name] if spec is not None else op.default_params()
            box = guarded.Checkbox(value=spec is not None and op.name in spec.enabled,
                                   description=op.label, indent=False,
                                   layout=widgets.Layout(width="170px"))
            box.add_class(f"nbviz-augment-{op.name}")
            self.checkboxes[op.name] = box
            params = {p.name: _param_widget(op, p, values[p.name], colour) for p in op.params}
            self.param_widgets[op.name] = params
            for w in (box, *params.values()):
                w.observe(lambda _c, name=op.name: self._on_widget(name), names="value")
                w.disabled = w.disabled or bool(self.reason_disabled)
            if op.note:
                box.tooltip = op.note
            notes = []
            if op.name == "color" and not colour:
                notes.append("saturation and hue need colour images; these have one channel")
            extra = [widgets.HTML(f'<span style="color:#666">{html.escape("; ".join(notes))}</span>')] \
                if notes else []
            rows.append(widgets.HBox([box, *params.values(), *extra], layout=_row_layout()))
        self.reroll_button.disabled = bool(self.reason_disabled)
        return rows

    # ---- front-end events: validate and enqueue only --------------------------------------
    def _on_widget(self, name: str) -> None:
        if self._syncing or self.reason_disabled:
            return
        values = {p: w.value for p, w in self.param_widgets[name].items() if not w.disabled}
        try:
            self.set(name, bool(self.checkboxes[name].value), **values)
        except AugmentationError as exc:
            self._notice = (f"refused: {exc}. The pipeline in force is unchanged.", "error")
            self._widgets_stale = True  # refresh() puts the accepted values back
            self.poke()

    # ---- the public API ----------------------------------------------------------------------
    @property
    def spec(self) -> PipelineSpec | None:
        """The pipeline this panel last accepted (in force from the next batch or epoch)."""
        return self._spec

    def set(self, name: str, enabled: bool | None = None, **values: Any) -> Future:
        """Switch op ``name`` on/off and/or set its parameters; returns the Future of the change.

        Raises:
            AugmentationError: the setting makes no sense or the data is not images; the
                pipeline in force stays as it was.
        """
        if self.reason_disabled or self._spec is None:
            raise AugmentationError(f"augmentation is disabled for this run: {self.reason_disabled}")
        with self._lock:
            if self.holder is not None:  # another panel on this run may have changed it
                self._spec = self.holder.requested
            new = self._spec.with_changes(name, enabled, **values)
            shape = tuple(self._samples.shape[1:])
            if new.output_shape() != shape:
                raise AugmentationError(
                    f"crop: a {new.params['crop']['size']}-pixel crop would change the training "
                    f"images from {shape[1]}x{shape[2]} to {new.output_shape()[1]}x"
                    f"{new.output_shape()[2]}, which the model was not built for; use zoom to crop "
                    "and resize, or keep the crop size at the image size")
            if new == self._spec:
                done: Future = Future()
                done.set_result("no change")
                return done
            self._spec = new
            if self.holder is not None:
                self.holder.requested = new
            self._widgets_stale = True
            self._notice = None
            self._request_preview()
        if self.holder is None:  # preview only
            done = Future()
            done.set_result(new.diff(self._spec))
            return done
        return change(self.session, self.holder, new)

    def code(self) -> str:
        """torchvision source (``transforms.v2.Compose([...])``) of the pipeline in this panel."""
        if self._spec is None:
            raise AugmentationError(f"augmentation is disabled for this run: {self.reason_disabled}")
        return self._spec.code()

    def reroll(self) -> None:
        """Draw new random augmentations of the same preview samples."""
        with self._lock:
            self._preview_seed += 1
            self._request_preview()

    # ---- preview -----------------------------------------------------------------------------
    def _request_preview(self) -> None:
        """Compute the preview where it cannot race training's RNG use (at a batch boundary)."""
        if self._spec is None:
            return
        self._preview_version += 1
        self._preview_asked = True
        version, spec, seed = self._preview_version, self._spec, self._preview_seed
        samples, draws = self._samples, self._draws

        def show(result: tuple[int, Any, bool]) -> None:
            if result[0] == self._preview_version:  # an older request is superseded
                show_preview(self.grid, preview.to_tiles(result[1], result[2]), self._draws)

        def failed(error: BaseException) -> None:
            self._notice = (f"preview failed: {error}", "error")

        self._preview_future = self.ask(
            lambda: (version, preview.draw(samples, spec, draws, seed), spec.info.unit_range), show, failed)
        self.poke()

    # ---- pump thread -------------------------------------------------------------------------
    def refresh(self) -> None:
        self.deliver_answers()
        if self.reason_disabled:
            self.message.value = message_html(
                f"Augmentation is off for this run. {self.reason_disabled}", "warning")
            return
        with self._lock:
            if self.holder is not None and self.holder.requested is not self._spec:
                self._spec = self.holder.requested  # changed from another panel
                self._widgets_stale = True
                self._request_preview()
            if not self._preview_asked:
                self._request_preview()
        if self._widgets_stale:
            self._sync_widgets()
        notice = self._notice or (self._effective_now(), "info")
        text = message_html(*notice) if notice[0] else ""
        if self.message.value != text:
            self.message.value = text
        code = f"<details><summary>torchvision code</summary><pre>{html.escape(self.code())}</pre></details>"
        if self.code_view.value != code:
            self.code_view.value = code

    def _effective_now(self) -> str:
        epoch = self._attached_in_epoch
        if epoch is not None and self.session.epoch <= epoch and self.session.loop_active:
            return (f"{self.effective}; this panel was opened during epoch {epoch + 1}, which "
                    f"finishes with its own loader: changes reach the training data from epoch {epoch + 2}")
        return self.effective

    def _sync_widgets(self) -> None:
        with self._lock:
            spec, self._widgets_stale = self._spec, False
        if spec is None:
            return
        self._syncing = True
        try:
            for name, box in self.checkboxes.items():
                with box.hold_sync():
                    box.value = name in spec.enabled
                for p, w in self.param_widgets[name].items():
                    if not w.disabled:
                        with w.hold_sync():
                            w.value = spec.params[name][p]
        finally:
            self._syncing = False


def show_preview(grid: ImageGrid, tiles: Any, draws: int) -> None:
    """Put the preview tiles (rows of original + draws) into the grid widget."""
    labels = [("original" if i % (draws + 1) == 0 else f"draw {i % (draws + 1)}")
              for i in range(len(tiles))]
    grid.set_tiles(tiles, labels=labels, caption="each row: a training sample, then random draws")


__all__ = ["AugmentationPanel"]
