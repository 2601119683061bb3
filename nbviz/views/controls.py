"""The control bar: Start/Pause/Step/Stop, learning rate, epochs, progress, status, errors."""

from __future__ import annotations

import contextlib
import html
import math
import threading
from collections.abc import Iterator
from typing import Any

import ipywidgets as widgets

from ..session.base import SessionBase
from ..session.hyperparams import HyperparameterError
from ..session.session import MAX_EPOCHS
from ..widgets import guarded
from .base import LiveView, message_html

LR_MIN_EXP, LR_MAX_EXP = -5, 0  # the slider's range, 1e-5 .. 1 (the field takes up to 10)
_NARROW_CSS = """<style>
.nbviz-dashboard .widget-tab > .lm-TabBar .lm-TabBar-content { flex-wrap: wrap; }
.nbviz-dashboard .widget-tab > .lm-TabBar .lm-TabBar-tab { flex: 0 0 auto; min-width: fit-content; }
.nbviz-controls .widget-button { min-width: fit-content; }
</style>"""


def narrow_width_style() -> widgets.HTML:
    """CSS that keeps button labels and tab titles whole in a narrow notebook (wrap, don't cut)."""
    return widgets.HTML(_NARROW_CSS, layout=widgets.Layout(height="0px", margin="0px"))


def three_digits(value: float) -> float:
    """``value`` rounded to 3 significant digits (a slider position, not a 17-digit float)."""
    return float(f"{value:.3g}")


def format_duration(seconds: float | None) -> str:
    """A time left as people say it: seconds below a minute, then 10 s steps, whole minutes
    from 10 min on (an estimate has no more precision, and a label that changes at every
    refresh is one more comm message each time)."""
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return "?"
    if seconds > 1e8:
        return "years"
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 600:
        minutes, seconds = divmod(int(round(seconds, -1)), 60)
        return f"{minutes} min {seconds:02d} s" if seconds else f"{minutes} min"
    minutes = int(round(seconds / 60))
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def total_steps(session: SessionBase) -> int | None:
    steps = getattr(session, "total_steps", None)
    if steps:
        return int(steps)
    if session.epochs and session.steps_per_epoch:
        return session.epochs * session.steps_per_epoch
    return None


class ControlBar(LiveView):
    """Buttons and fields that steer the run, and a live summary of where it is.

    Clicks only set flags or enqueue commands; the training loop applies them at its next
    batch boundary. Values from the front end are checked before ipywidgets converts them
    (:mod:`nbviz.widgets.guarded`); refused values put the value in force back and say why.
    Observers may run on several threads at once: a new learning rate is compared with the
    last one asked for (not the one in force), and echoes of the pump's own writes are told
    apart per thread.
    """

    # twice a second while training runs (each refresh sends the step counter), and at once
    # after a click on the bar (each handler pokes it)
    min_interval = 0.5

    def __init__(self, session: SessionBase) -> None:
        super().__init__(session)
        self._inputs: tuple[Any, ...] | None = None  # what the last refresh showed, see refresh
        button = widgets.Layout(width="auto", min_width="fit-content")
        self.start_button = widgets.Button(description="Start", icon="play", button_style="success",
                                           tooltip="Start or resume training", layout=button)
        self.pause_button = widgets.Button(description="Pause", icon="pause",
                                           tooltip="Pause at the next batch", layout=button)
        self.step_button = widgets.Button(description="Step", icon="step-forward",
                                          tooltip="Train this many batches, then pause", layout=button)
        self.step_count_field = guarded.BoundedIntText(value=1, min=1, max=100_000,
                                                       layout=widgets.Layout(width="80px"))
        self.stop_button = widgets.Button(description="Stop", icon="stop", button_style="danger",
                                          tooltip="Stop at the next batch", layout=button)
        lr = session.lr if session.lr is not None else 0.01
        self.lr_slider = guarded.FloatLogSlider(
            value=min(max(lr, 10.0 ** LR_MIN_EXP), 10.0 ** LR_MAX_EXP), base=10, min=LR_MIN_EXP,
            max=LR_MAX_EXP, step=0.05, description="learning rate", readout_format=".2e",
            continuous_update=False, style={"description_width": "initial"},
            layout=widgets.Layout(width="330px", min_width="260px"))
        self.lr_field = guarded.FloatText(value=lr, layout=widgets.Layout(width="100px"))
        self.epochs_field = guarded.IntText(value=session.epochs or 1, description="epochs",
                                            disabled=session.epochs is None,
                                            layout=widgets.Layout(width="150px"),
                                            style={"description_width": "initial"})
        self.epochs_field.guards = {"value": guarded.whole_number(1, MAX_EPOCHS)}
        for field in (self.step_count_field, self.lr_slider, self.lr_field, self.epochs_field):
            field.on_refused = lambda reason: self._say(f"value refused: {reason}", "warning")
        self.progress = widgets.FloatProgress(value=0.0, min=0.0, max=1.0,
                                              layout=widgets.Layout(width="220px"))
        self.progress_label = widgets.HTML()
        self.status = widgets.HTML()
        self.error = widgets.HTML()
        self.step_label = widgets.Label()  # the step counter, also read by browser tests
        self.step_label.add_class("nbviz-step")
        self.status.add_class("nbviz-status")
        self._echo = threading.local()  # set while this thread writes a field itself
        self._lr_lock = threading.Lock()
        self._notice: tuple[str, str, str] | None = None
        self._shown: dict[str, Any] = {}
        wrap = widgets.Layout(flex_flow="row wrap", align_items="center")
        self.children = [
            widgets.HBox([self.start_button, self.pause_button, self.step_button,
                          self.step_count_field, self.stop_button, self.lr_slider, self.lr_field,
                          self.epochs_field], layout=wrap),
            widgets.HBox([self.progress, self.step_label, self.progress_label], layout=wrap),
            self.status, self.error]
        self.add_class("nbviz-controls")
        self.start_button.on_click(self._on_start)
        self.pause_button.on_click(self._on_pause)
        self.step_button.on_click(self._on_step)
        self.stop_button.on_click(self._on_stop)
        self.lr_slider.observe(self._on_lr_slider, names="value")
        self.lr_field.observe(self._on_lr, names="value")
        self.epochs_field.observe(self._on_epochs, names="value")

    # ---- front-end events: validate, enqueue, say what happened ------------------------------
    @contextlib.contextmanager
    def _writing(self) -> Iterator[None]:
        """Mark this thread's own writes to the fields, so their observers ignore them."""
        self._echo.active = True
        try:
            yield
        finally:
            self._echo.active = False

    def _is_echo(self) -> bool:
        return getattr(self._echo, "active", False)

    def _on_start(self, _: Any) -> None:
        try:
            self.session.start()
        except (RuntimeError, ValueError) as exc:
            self._say(str(exc), "warning")
        self.poke()

    def _on_pause(self, _: Any) -> None:
        self.session.pause()
        self.poke()

    def _on_stop(self, _: Any) -> None:
        self.session.request_stop()
        self.poke()

    def _on_step(self, _: Any) -> None:
        try:
            self.session.step(int(self.step_count_field.value))
        except (RuntimeError, ValueError) as exc:
            self._say(str(exc), "warning")
        self.poke()

    def _on_lr_slider(self, change: dict[str, Any]) -> None:
        if not self._is_echo():
            self._ask_lr(three_digits(change["new"]))

    def _on_lr(self, change: dict[str, Any]) -> None:
        if not self._is_echo():
            self._ask_lr(change["new"])

    def _ask_lr(self, value: float) -> None:
        with self._lr_lock:  # compare and ask as one step: the last asked is left in force
            if value == self.session.requested_hyperparameter("lr"):
                self._show_lr(value)
                return
            try:
                self.session.set_hyperparameter("lr", value)
            except HyperparameterError as exc:
                self._say(f"learning rate refused: {exc}", "warning")
                value = self.session.requested_hyperparameter("lr") or value
            self._show_lr(value)

    def _on_epochs(self, change: dict[str, Any]) -> None:
        if self._is_echo() or not hasattr(self.session, "set_epochs"):
            return
        try:
            self.session.set_epochs(change["new"])
        except ValueError as exc:
            self._say(str(exc), "warning")
            with self._writing():
                self.epochs_field.value = self.session.epochs or change["old"]

    def _show_lr(self, value: float | None) -> None:
        if value is None:
            return
        with self._writing():
            low, high = 10.0 ** LR_MIN_EXP, 10.0 ** LR_MAX_EXP
            self.lr_slider.value = min(max(value, low), high)
            self.lr_field.value = value

    def _say(self, text: str, kind: str = "info") -> None:
        """Show ``text`` on the status line at the next refresh, until the state changes."""
        self._notice = (text, kind, self.session.state)
        self.poke()

    # ---- the pump's side -------------------------------------------------------------------
    def refresh(self) -> None:
        session = self.session
        state = session.state
        step = session.step_count
        rate = session.history.last("samples_per_sec")
        if rate:
            rate = float(f"{rate:.3g}")  # 3 digits: noise in the 4th must not resend the label
        total = total_steps(session)
        lr = session.lr
        inputs = (state, step, rate, total, session.epoch, session.epochs, session.batch_size,
                  session.steering, session.status_message, session.error, lr, self._notice)
        if inputs == self._inputs:  # nothing shown here changed: nothing to compute or send
            return
        self._inputs = inputs
        fraction = min(step / total, 1.0) if total else 0.0
        parts = [f"epoch {min(session.epoch + (state in ('running', 'paused')), session.epochs or 10**9)}"
                 + (f"/{session.epochs}" if session.epochs else "")]
        if rate:
            parts.append(f"{rate:,.0f} samples/s")
            if total and session.batch_size and state == "running":
                parts.append(f"{format_duration((total - step) * session.batch_size / rate)} left")
        steering = session.steering  # which path brings clicks to a loop in a cell
        if steering.startswith("not steerable"):
            parts.append(f"<b>{html.escape(steering)}</b>")
        elif steering != "training thread":
            parts.append(f"clicks reach the loop via {html.escape(steering)}")
        message = session.status_message
        status_text = message if message.startswith(state) else (
            f"{state}: {message}" if message else state)
        kind = "error" if state == "failed" else (
            "warning" if "loss became" in session.status_message else "info")
        notice = self._notice
        if notice is not None:
            if notice[2] == state:
                status_text, kind = notice[0], notice[1]
            else:
                self._notice = None
        error_html = ""
        if session.error is not None:
            error_html = (f"<details open><summary><b>Training failed:</b> "
                          f"{html.escape(str(session.error))}</summary>"
                          f"<pre>{html.escape(session.error_traceback or '')}</pre></details>")
        with self.hold_sync():
            self._set(self.progress, "value", round(fraction, 3))
            self._set(self.step_label, "value", f"step {step}")
            self._set(self.progress_label, "value", " · ".join(parts))
            self._set(self.status, "value", message_html(status_text, kind))
            self._set(self.error, "value", error_html)
            # show a learning rate changed elsewhere (code, a checkpoint), unless one asked for
            # here is still on its way
            if lr is not None and lr != self._shown.get("lr"):
                self._shown["lr"] = lr
                with self._lr_lock:
                    if self.session.requested_hyperparameter("lr") == lr and lr != self.lr_field.value:
                        self._show_lr(lr)
            if session.epochs and session.epochs != self._shown.get("epochs"):
                self._shown["epochs"] = session.epochs
                with self._writing():
                    self.epochs_field.value = min(session.epochs, MAX_EPOCHS)
            self._set(self.epochs_field, "disabled", session.epochs is None)
            self._set(self.pause_button, "disabled", state != "running")
            self._set(self.start_button, "description",
                      "Resume" if state == "paused" else "Start")

    def _set(self, widget: widgets.Widget, name: str, value: Any) -> None:
        """Set a trait only when it changed, so an idle dashboard sends nothing."""
        if getattr(widget, name) != value:
            setattr(widget, name, value)
