"""LossLandscape: the loss around the current weights, the path training took, and lines.

Pick directions (filter-normalised random, PCA of the recorded path, top Hessian
eigenvectors, or two chosen scalar parameters), press Compute: a worker thread copies the
model at a batch boundary and evaluates loss and accuracy on a probe set over a grid that
starts at 9 x 9 and is refined to the chosen size, with progress and Cancel. The copy is in
eval mode, so BatchNorm uses its running statistics (the view says so) and training is never
touched. The recorded trajectory is projected onto the plane: each point's colour is its
distance from the plane (the projection is not the path itself), and the current weights are
marked as training moves on. "Line" evaluates the straight line from the recorded start (or
a checkpoint) to the current weights.

Example:
    >>> view = nbviz.LossLandscape(session)   # open before training to record the whole path
    >>> view.compute()                        # or press Compute
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import Any

import bqplot as bq
import ipywidgets as widgets
import numpy as np
import torch
import traitlets

from ..landscape.contours import contour_paths
from ..landscape.directions import (
    flat_parameters,
    hessian_directions,
    pca_directions,
    random_directions,
)
from ..landscape.evaluate import MAX_PROBE, MIN_PROBE, LossFn, check_probe_size, model_copy
from ..landscape.line import interpolate
from ..landscape.params2d import parameter_sizes, two_parameter_plane
from ..landscape.surface import Plane, SurfaceJob, check_grid, project
from ..landscape.trajectory import TrajectoryRecorder
from ..widgets import guarded
from .base import LiveView, message_html
from .charts import LineChart
from .links import ControlLink

DIRECTIONS = [("random (filter-normalised)", "random"), ("PCA of the recorded path", "pca"),
              ("top Hessian eigenvectors", "hessian"), ("two chosen parameters", "params")]
SIZES = [9, 17, 25, 41, 81]
LEVELS = 14  # colour bands of the heat map, edged by contour lines: equal steps of log(loss)
BN_NOTE = ("Evaluated on a copy of the model in eval mode: BatchNorm uses its running statistics, "
           "dropout is off. Training is not touched.")


class LossLandscape(LiveView):
    """Loss/accuracy on a plane through the weights, with the projected trajectory, and lines.

    Args:
        session: a TrainingSession, or nbviz.watch() with an optimizer and ``loss_fn`` given.
        probe_size: probe samples evaluated per grid point (16..65536; 1,024 by default).
        loss_fn: the loss (default: the session's).
        max_bytes: memory for the recorded trajectory.
        record_every: record every n-th step exactly (default: as often as a 1% time budget
            and 20 snapshots/s allow).

    Raises:
        ValueError: no loss function, a bad probe size, or a model without trainable parameters.
    """

    directions = traitlets.Unicode("random")
    size = traitlets.Int(41)
    span = traitlets.Float(1.0)
    probe_size = traitlets.Int(1024)
    show = traitlets.Unicode("loss")

    min_interval = 0.3

    def __init__(self, session: Any, probe_size: int = 1024, loss_fn: Callable | None = None,
                 max_bytes: int = 256 << 20, record_every: int | None = None) -> None:
        super().__init__(session)
        try:
            self._setup(check_probe_size(probe_size), loss_fn, max_bytes, record_every)
        except BaseException:
            self.close()
            raise

    def _setup(self, probe_size: int, loss_fn: Callable | None, max_bytes: int,
               record_every: int | None) -> None:
        found = loss_fn if loss_fn is not None else getattr(self.session, "loss_fn", None)
        if found is None:
            raise ValueError("LossLandscape needs the loss: pass loss_fn=, e.g. "
                             "nbviz.LossLandscape(run, loss_fn=torch.nn.CrossEntropyLoss())")
        self.loss_fn: LossFn = found
        self.recorder = TrajectoryRecorder(self.session.model, max_bytes=max_bytes,
                                           every=record_every).attach(self.session)
        self.probe_size = probe_size
        self._sizes = parameter_sizes(self.session.model)
        self._lock = threading.Lock()
        self._job: SurfaceJob | None = None
        self._plane: Plane | None = None
        self._worker: threading.Thread | None = None
        self._cancel = threading.Event()
        self._message: tuple[str, str] = ("Press Compute to see the loss around the current weights.", "info")
        self._line: tuple[np.ndarray, np.ndarray, np.ndarray, str] | None = None
        self._drawn: tuple = ()
        self._path_drawn = -1
        self._build()

    # ---- widgets --------------------------------------------------------------------------
    def _build(self) -> None:
        lock = self.context.state_lock
        self.direction_select = guarded.Dropdown(options=DIRECTIONS, value=self.directions,
                                                 description="directions")
        self.size_select = guarded.Dropdown(options=[(f"{n} x {n}", n) for n in SIZES], value=self.size,
                                            description="grid")
        self.span_slider = guarded.FloatSlider(value=self.span, min=0.05, max=5.0, step=0.05,
                                               description="range ±")
        self.probe_text = guarded.BoundedIntText(value=self.probe_size, min=MIN_PROBE, max=MAX_PROBE,
                                                 description="probe")
        self.show_toggle = guarded.ToggleButtons(options=[("loss", "loss"), ("accuracy", "accuracy")],
                                                 value=self.show)
        self._links = [ControlLink(self.show_toggle, self, "show", lock),
                       ControlLink(self.direction_select, self, "directions", lock),
                       ControlLink(self.size_select, self, "size", lock),
                       ControlLink(self.span_slider, self, "span", lock),
                       ControlLink(self.probe_text, self, "probe_size", lock)]
        names = list(self._sizes)
        self.param1 = guarded.Dropdown(options=names, value=names[0], description="param 1")
        self.index1 = guarded.BoundedIntText(value=0, min=0, max=10**9, description="index")
        self.param2 = guarded.Dropdown(options=names, value=names[-1], description="param 2")
        self.index2 = guarded.BoundedIntText(value=0, min=0, max=10**9, description="index")
        self.params_box = widgets.HBox([self.param1, self.index1, self.param2, self.index2],
                                       layout=widgets.Layout(flex_flow="row wrap", display="none"))
        self.compute_button = widgets.Button(description="Compute", button_style="primary", icon="play")
        self.cancel_button = widgets.Button(description="Cancel", icon="stop", disabled=True)
        self.line_button = widgets.Button(description="Line: start → now", icon="line-chart")
        self.line_from = widgets.Text(placeholder="checkpoint path (empty: recorded start)",
                                      layout=widgets.Layout(width="300px"))
        self.compute_button.on_click(lambda _b: self.compute())
        self.cancel_button.on_click(lambda _b: self.cancel())
        self.line_button.on_click(lambda _b: self.compute_line(self.line_from.value.strip() or None))
        self.progress = widgets.FloatProgress(value=0.0, min=0.0, max=1.0, description="progress")
        self.status = widgets.HTML(message_html(self._message[0]))
        self.note = widgets.HTML(message_html(BN_NOTE))

        self.x_scale = bq.LinearScale(min=-1.0, max=1.0)
        self.y_scale = bq.LinearScale(min=-1.0, max=1.0)
        self.color_scale = bq.ColorScale(scheme="viridis", min=0.0, max=1.0)
        self.dist_scale = bq.ColorScale(colors=["#ffffff", "#d50000"], min=0.0, max=1.0)
        self.heat = bq.HeatMap(x=np.linspace(-1, 1, 2, dtype=np.float32), y=np.linspace(-1, 1, 2, dtype=np.float32),
                               color=np.zeros((2, 2), np.float32),
                               scales={"x": self.x_scale, "y": self.y_scale, "color": self.color_scale},
                               visible=False)
        self.contour_lines = bq.Lines(x=np.zeros(0, np.float32), y=np.zeros(0, np.float32),
                                      scales={"x": self.x_scale, "y": self.y_scale}, colors=["#ffffff"],
                                      stroke_width=0.8, opacities=[0.75])
        self.path_line = bq.Lines(x=np.zeros(0, np.float32), y=np.zeros(0, np.float32),
                                  scales={"x": self.x_scale, "y": self.y_scale}, colors=["#eeeeee"],
                                  stroke_width=1, line_style="dashed")
        self.path = bq.Scatter(x=np.zeros(0, np.float32), y=np.zeros(0, np.float32),
                               color=np.zeros(0, np.float32),
                               scales={"x": self.x_scale, "y": self.y_scale, "color": self.dist_scale},
                               stroke="black", default_size=36,
                               tooltip=bq.Tooltip(fields=["x", "y", "color"], formats=[".3g", ".3g", ".3g"],
                                                  labels=["a", "b", "distance from plane"]))
        self.current = bq.Scatter(x=np.zeros(0, np.float32), y=np.zeros(0, np.float32),
                                  scales={"x": self.x_scale, "y": self.y_scale}, marker="cross",
                                  colors=["#ff1744"], default_size=160, stroke="white")
        self.x_axis = bq.Axis(scale=self.x_scale, label="a (direction 1)", tick_format=".2g")
        self.y_axis = bq.Axis(scale=self.y_scale, label="b (direction 2)", side="left", tick_format=".2g")
        # what the colour bar shows (log10 loss, or accuracy) is said in the legend below:
        # bqplot draws a colour-axis label over the plot
        self.color_axis = bq.ColorAxis(scale=self.color_scale, side="right", tick_format=".2g")
        self.colour_of = "log10 loss"
        self.figure = bq.Figure(
            marks=[self.heat, self.contour_lines, self.path_line, self.path, self.current],
            axes=[self.x_axis, self.y_axis,
                  self.color_axis],
            title="loss on the plane (not computed yet)",
            layout=widgets.Layout(width="520px", max_width="100%", height="480px"),
            fig_margin={"top": 40, "bottom": 50, "left": 60, "right": 90}, animation_duration=0)
        self.legend = widgets.HTML()
        self.line_chart = LineChart("loss along the line", "loss", x_label="alpha (0 = start, 1 = now)",
                                    empty_text="press Line to evaluate start → now", width="420px")
        self.line_chart.add_line("loss", "#1565c0", "loss", markers=True)
        self.acc_chart = LineChart("accuracy along the line", "accuracy", y_range=(0.0, 1.0),
                                   x_label="alpha (0 = start, 1 = now)", empty_text="", width="420px")
        self.acc_chart.add_line("acc", "#2e7d32", "accuracy", markers=True)
        self.add_class("nbviz-loss-landscape")
        self.children = [
            widgets.HBox([self.direction_select, self.size_select, self.span_slider, self.probe_text],
                         layout=widgets.Layout(flex_flow="row wrap")),
            self.params_box,
            widgets.HBox([self.compute_button, self.cancel_button, self.progress, self.show_toggle],
                         layout=widgets.Layout(flex_flow="row wrap")),
            self.status, self.note,
            widgets.HBox([widgets.VBox([self.figure, self.legend]),
                          widgets.VBox([widgets.HBox([self.line_button, self.line_from]),
                                        self.line_chart, self.acc_chart])],
                         layout=widgets.Layout(flex_flow="row wrap"))]
        self.observe(lambda _c: self.poke(), names=["directions", "show"])

    # ---- validation -------------------------------------------------------------------------
    @traitlets.validate("directions")
    def _valid_directions(self, proposal: traitlets.Bunch) -> str:
        if proposal["value"] not in {v for _, v in DIRECTIONS}:
            raise traitlets.TraitError(f"directions must be one of random, pca, hessian, params; "
                                       f"got {proposal['value']!r}")
        return proposal["value"]

    @traitlets.validate("show")
    def _valid_show(self, proposal: traitlets.Bunch) -> str:
        if proposal["value"] not in ("loss", "accuracy"):
            raise traitlets.TraitError(f"show must be loss or accuracy, got {proposal['value']!r}")
        return proposal["value"]

    @traitlets.validate("size")
    def _valid_size(self, proposal: traitlets.Bunch) -> int:
        try:
            check_grid(proposal["value"], 9, 1.0)
        except ValueError as error:
            raise traitlets.TraitError(str(error)) from None
        return proposal["value"]

    @traitlets.validate("span")
    def _valid_span(self, proposal: traitlets.Bunch) -> float:
        try:
            return check_grid(9, 9, proposal["value"])[2]
        except ValueError as error:
            raise traitlets.TraitError(str(error)) from None

    @traitlets.validate("probe_size")
    def _valid_probe(self, proposal: traitlets.Bunch) -> int:
        try:
            return check_probe_size(proposal["value"])
        except ValueError as error:
            raise traitlets.TraitError(str(error)) from None

    # ---- actions (any thread: they only start a worker or set an event) ---------------------
    @property
    def busy(self) -> bool:
        worker = self._worker
        return worker is not None and worker.is_alive()

    def compute(self) -> None:
        """Start computing the surface in a worker thread (refused while one runs)."""
        self._start(self._surface_work)

    def compute_line(self, start: str | None = None) -> None:
        """Evaluate the line from ``start`` (a checkpoint path; None: the recorded start) to now."""
        self._start(lambda: self._line_work(start))

    def cancel(self) -> None:
        self._cancel.set()
        job = self._job
        if job is not None:
            job.cancel()

    def _start(self, work: Callable[[], None]) -> None:
        with self._lock:
            if self.busy:
                self._say("Already computing: wait or press Cancel.", "warning")
                return
            self._cancel.clear()
            self._worker = threading.Thread(target=self._guarded(work), name="nbviz-landscape", daemon=True)
            self._worker.start()
        self.poke()

    def _guarded(self, work: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                work()
            except InterruptedError:
                self._say("Cancelled.", "warning")
            except Exception as error:  # shown on the view; the user's model is never the one written
                self._say(f"{type(error).__name__}: {error}", "error")
            finally:
                self.poke()
        return run

    def _say(self, text: str, kind: str = "info") -> None:
        self._message = (text, kind)
        self.poke()

    def _snapshot(self) -> tuple[Any, torch.Tensor, int]:
        model = self.session.model
        return self.session.run_at_batch_boundary(
            lambda: (model_copy(model), flat_parameters(model), int(self.session.step_count))).result()

    def _plane_for(self, kind: str, clone: Any, origin: torch.Tensor, x: torch.Tensor,
                   y: torch.Tensor) -> Plane:
        if kind == "random":
            r1, r2 = random_directions(clone)
            return Plane(origin, r1, r2, kind="random",
                         note="filter-normalised random directions (Li et al.)")
        if kind == "pca":
            _steps, points = self.recorder.snapshots()
            (d1, d2), share = pca_directions(points, origin.numpy())
            # scale each unit component to the path's extent along it: range ±1 frames the path
            offsets = torch.from_numpy(points) - origin
            s1, s2 = (max(1.15 * float((offsets @ d).abs().max()), 1e-8) for d in (d1, d2))
            return Plane(origin, d1 * s1, d2 * s2, kind="pca",
                         note=f"PCA of {len(points)} recorded points: {share[0]:.0%} and {share[1]:.0%} "
                              "of the path's variance; ±1 = the path's extent")
        if kind == "hessian":
            self._say("Computing the top Hessian eigenvectors (Lanczos, 20 Hessian-vector products)...")
            n = min(len(x), 256)
            (d1, d2), vals = hessian_directions(model_copy(clone), self.loss_fn, x[:n], y[:n],
                                                should_stop=self._cancel.is_set)
            unit = float(origin.norm()) / 10  # unit eigenvectors scaled to 10% of the weights' norm
            return Plane(origin, d1 * unit, d2 * unit,
                         kind="hessian", note=f"top Hessian eigenvalues {vals[0]:.3g}, {vals[1]:.3g} "
                                              "(unit = 10% of the weights' norm)")
        first = (self.param1.value, int(self.index1.value))
        second = (self.param2.value, int(self.index2.value))
        return two_parameter_plane(clone, first, second)

    def _surface_work(self) -> None:
        kind, size, span, probe = self.directions, self.size, self.span, self.probe_size
        self._say("Copying the model at a batch boundary...")
        x, y = self.session.probe_batch(probe)
        clone, origin, step = self._snapshot()
        plane = self._plane_for(kind, clone, origin, x, y)
        if self._cancel.is_set():
            raise InterruptedError("cancelled")
        # while training runs, one single-threaded worker leaves the other cores to training
        training = self.session.state == "running"
        job = SurfaceJob(clone, plane, x, y, self.loss_fn, size=size, coarse=min(9, size), span=span,
                         workers=1 if training else None, on_progress=self.poke)
        with self._lock:
            self._job, self._plane, self._path_drawn = job, plane, -1
        self._say(f"Computing {size} x {size} on {len(x)} probe samples at step {step} "
                  f"({plane.note}), coarse to fine, on {job.workers} worker thread(s)"
                  f"{' (training runs: one core is left to it)' if training else ''}...")
        job.run()
        if job.state == "failed":
            raise job.error if job.error is not None else RuntimeError("the surface failed")
        if job.state == "cancelled":
            raise InterruptedError("cancelled")
        self._say(f"{size} x {size} at step {step} in {job.seconds:.1f} s on {len(x)} probe samples "
                  f"({plane.note}).")

    def _line_work(self, start: str | None) -> None:
        x, y = self.session.probe_batch(self.probe_size)
        clone, now, step = self._snapshot()
        if start is None:
            first = self.recorder.first()
            if first is None:
                raise ValueError("nothing recorded yet: train a step, or give a checkpoint path")
            begin, label = torch.from_numpy(first[1]), f"step {first[0]}"
        else:
            begin, label = self._checkpoint_vector(start, clone), start
        self._say(f"Evaluating the line from {label} to step {step}...")
        alphas, loss, acc = interpolate(clone, begin, now, x, y, self.loss_fn, points=25,
                                        should_stop=self._cancel.is_set)
        with self._lock:
            self._line = (alphas, loss, acc, f"{label} → step {step}")
        self._say(f"Line from {label} (alpha 0) to step {step} (alpha 1) on {len(x)} probe samples.")

    @staticmethod
    def _checkpoint_vector(path: str, clone: Any) -> torch.Tensor:
        from ..session.checkpoint import read_weights, weights_mismatch
        weights = read_weights(path)
        problem = weights_mismatch(weights, clone)
        if problem:
            raise ValueError(f"{path} does not fit this model: {problem}")
        return torch.cat([weights[name].reshape(-1).float() for name, p in clone.named_parameters()
                          if p.requires_grad])

    # ---- drawing (pump thread) ---------------------------------------------------------------
    def refresh(self) -> None:
        self.deliver_answers()
        busy = self.busy
        self.params_box.layout.display = "flex" if self.directions == "params" else "none"
        self.compute_button.disabled, self.cancel_button.disabled = busy, not busy
        text, kind = self._message
        status = message_html(text, kind)
        if self.status.value != status:
            self.status.value = status
        job, plane = self._job, self._plane
        if job is not None:
            self.progress.value = job.progress
            if job.done and self._drawn != (id(job), job.done, self.show):
                self._draw_surface(job, plane)
                self._drawn = (id(job), job.done, self.show)
            if plane is not None and self.recorder.version != self._path_drawn:
                self._draw_path(plane)
        line = self._line
        if line is not None and self._drawn_line is not line:
            alphas, loss, acc, _label = line
            self.line_chart.set_series("loss", alphas, loss)
            self.acc_chart.set_series("acc", alphas, acc)
            self._drawn_line = line

    _drawn_line: Any = None

    def _draw_surface(self, job: SurfaceJob, plane: Plane | None) -> None:
        loss, acc, done = job.grids()
        show_acc = self.show == "accuracy" and bool(np.isfinite(acc).any())
        finite = loss[np.isfinite(loss)]
        if finite.size == 0:
            return
        lo, hi = float(finite.min()), float(finite.max())
        steps = np.arange(1, LEVELS) / LEVELS  # band boundaries: the contour lines
        if show_acc:  # equal bands of accuracy, 0..1
            bands = np.floor(np.clip(np.nan_to_num(acc, nan=0.0), 0, 1) * (LEVELS - 1e-6)) / LEVELS
            cmin, cmax, clabel = 0.0, 1.0, "accuracy"
            lines = contour_paths(job.coords, acc, steps)
            what = (f"accuracy bands of {1 / LEVELS:.0%} from 0 (dark) to 1 (yellow); here "
                    f"{float(np.nanmin(acc)):.0%}..{float(np.nanmax(acc)):.0%}")
        else:  # equal bands of log(loss): contour-like levels
            logs = np.log10(np.clip(np.nan_to_num(loss, nan=hi, posinf=hi), 1e-12, None))
            llo, lhi = np.log10(max(lo, 1e-12)), np.log10(max(hi, 1e-12))
            lhi = max(lhi, llo + 1e-3)  # a flat surface still gets a real colour domain
            # each cell takes its band's lower edge, so the colour bar reads log10(loss)
            bands = llo + np.floor((logs - llo) / (lhi - llo) * (LEVELS - 1e-6)) * (lhi - llo) / LEVELS
            cmin, cmax, clabel = float(llo), float(lhi), "log10 loss"
            lines = contour_paths(job.coords, logs, llo + steps * (lhi - llo))
            what = (f"loss bands, equal steps of log(loss) from {lo:.3g} (dark) to {hi:.3g} (yellow), "
                    f"one band ≈ ×{float(10 ** ((lhi - llo) / LEVELS)):.2f}")
        span = job.span
        if plane is not None and plane.kind == "params":
            first, second = plane.note.split(", ", 1)
            xlabel, ylabel = first, second
        else:
            xlabel, ylabel = "a (direction 1)", "b (direction 2)"
        with self._held(self.figure, self.heat, self.contour_lines, self.x_scale, self.y_scale,
                        self.color_scale, self.color_axis):
            for sc in (self.x_scale, self.y_scale):
                sc.min, sc.max = -span, span
            self.color_scale.min, self.color_scale.max = cmin, cmax
            self.colour_of = clabel
            self.x_axis.label, self.y_axis.label = xlabel, ylabel
            self.heat.x, self.heat.y = job.coords.copy(), job.coords.copy()
            self.heat.color = bands.astype(np.float32)
            self.contour_lines.x, self.contour_lines.y = lines
            self.heat.visible = True
            side = job.level_size()
            level = f"{side} x {side}, refining" if done < job.total else f"{job.size} x {job.size}"
            self.figure.title = (f"{'accuracy' if show_acc else 'loss'} on the plane "
                                 f"({level}, {done}/{job.total} points)")
        self.legend.value = (
            f'<div style="font-size:12px">Colour (bar: {self.colour_of}): {what}; white lines: the band edges (contours). Points: the recorded path projected onto '
            "the plane, filled red by distance from it (hover for a, b and distance): a projection, "
            "not the path itself; ✚ the current weights.</div>")

    @staticmethod
    @contextlib.contextmanager
    def _held(*widgets_: widgets.Widget) -> Iterator[None]:
        """Each widget's trait changes go out as one message: a mark whose x and y went out
        one by one was drawn, in between, with x and y of different lengths (NaN paths)."""
        with contextlib.ExitStack() as stack:
            for widget in widgets_:
                stack.enter_context(widget.hold_sync())
            yield

    def _draw_path(self, plane: Plane) -> None:
        version = self.recorder.version
        steps, points = self.recorder.snapshots()
        if len(steps) == 0:
            return
        a, b, dist = project(points, plane)
        latest = self.recorder.latest()
        with self._held(self.figure, self.dist_scale, self.path_line, self.path, self.current):
            top = float(dist.max()) if dist.size and dist.max() > 0 else 1.0
            self.dist_scale.min, self.dist_scale.max = 0.0, top
            self.path_line.x, self.path_line.y = a.astype(np.float32), b.astype(np.float32)
            self.path.x, self.path.y, self.path.color = (a.astype(np.float32), b.astype(np.float32),
                                                         dist.astype(np.float32))
            if latest is not None:
                ca, cb, _d = project(latest[1], plane)
                self.current.x, self.current.y = ca.astype(np.float32), cb.astype(np.float32)
        self._path_drawn = version

    def on_close(self) -> None:
        if hasattr(self, "_cancel"):  # a constructor that failed early has nothing running
            self.cancel()
        for link in getattr(self, "_links", []):
            link.unlink()
        recorder = getattr(self, "recorder", None)
        if recorder is not None:
            recorder.detach()


__all__ = ["LossLandscape"]
