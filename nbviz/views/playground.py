"""Playground: one widget for a lesson on a 2-D toy problem, on a real TrainingSession.

Pick a dataset, its noise and train/validation ratio, the input features, hidden layers
(add/remove, units per layer), activation, learning rate, L1/L2 regularisation and batch
size; press Play, Pause, Step (one epoch) or Reset. Below: the network diagram (edges are
the weights, every node shows its map: :class:`~nbviz.views.network_diagram.NetworkDiagram`),
the decision boundary (:class:`~nbviz.views.decision_boundary.DecisionBoundary`) and the
train and validation loss curves. "Export code" shows the same network and loop as plain PyTorch.

Learning rate and regularisation apply to the running session at the next batch; any other
change builds a new network and session (as a fresh start), because it changes the data or
the network's shape. Controls only check and queue a change; the run's UI pump applies it
(rebuilds, writes the widgets), so clicks on several threads at once never race. ``playground.session`` is an ordinary TrainingSession, so every other
nbviz view works on it too.

Example:
    >>> play = nbviz.Playground(dataset="spiral", features=["x1", "x2", "sin(x1)", "sin(x2)"])
    >>> play            # last line of a cell: shows it; press Play
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import ipywidgets as widgets

from ..datasets.toy2d import TOY2D_KINDS, toy2d
from ..session.session import TrainingSession
from ..widgets import guarded
from .base import claim_close, close_tree, message_html
from .context import context_for
from .curves import TrainingCurves
from .decision_boundary import DecisionBoundary
from .network_diagram import NetworkDiagram
from .playground_model import (
    ACTIVATIONS,
    FEATURES,
    MAX_LAYERS,
    MAX_UNITS,
    REGULARIZATION,
    PlaygroundConfig,
    RegularizedLoss,
    build_model,
    export_code,
)
from .pump import UiPump

EPOCHS = 10_000  # Play runs until paused
LIVE_SETTINGS = ("lr", "regularization", "reg_rate")
LEARNING_RATES = (0.00001, 0.0001, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0)


class Playground(widgets.VBox):
    """A TensorFlow-Playground-like lesson widget on an nbviz TrainingSession.

    Args:
        **settings: any field of :class:`~nbviz.views.playground_model.PlaygroundConfig`
            (dataset, noise, train_percent, features, hidden, activation, lr,
            regularization, reg_rate, batch_size, n, seed).

    Raises:
        ValueError: an unknown setting or a value out of range (the message names it).
    """

    def __init__(self, **settings: Any) -> None:
        unknown = set(settings) - set(PlaygroundConfig.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown setting(s) {sorted(unknown)}; use: "
                             f"{', '.join(PlaygroundConfig.__dataclass_fields__)}")
        self.config = PlaygroundConfig(**settings).check()
        self._wanted = self.config  # the settings last asked for (the pump brings config to it)
        self._lock = threading.RLock()  # the observers' state: wanted settings, queued work
        self._run_lock = threading.RLock()  # the session being swapped, started, paused
        self._apply_lock = threading.Lock()  # one pump thread applies at a time
        self._settled = threading.Event()
        self._settled.set()
        self._pending_message: str | None = None
        self._pending_resync = self._pending_code = False
        self._applier = _Applier(self)
        self._closed = False
        self.session: TrainingSession | None = None
        self.boundary: DecisionBoundary | None = None
        self.diagram: NetworkDiagram | None = None
        self.curves: TrainingCurves | None = None
        self.loss: RegularizedLoss | None = None
        super().__init__()
        self._build_controls()
        self.views_box = widgets.VBox()
        self.code = widgets.Textarea(layout=widgets.Layout(width="100%", height="320px", display="none"))
        self.message = widgets.HTML()
        self.add_class("nbviz-playground")
        self.children = [self.controls_box, self.message, self.views_box, self.code]
        self.rebuild()

    # ---- controls -------------------------------------------------------------------------
    def _build_controls(self) -> None:
        c = self.config
        self.dataset = guarded.Dropdown(options=list(TOY2D_KINDS), value=c.dataset, description="data")
        self.noise = guarded.FloatSlider(value=c.noise, min=0.0, max=0.5, step=0.05, description="noise")
        self.train_percent = guarded.IntSlider(value=c.train_percent, min=10, max=90, step=10,
                                               description="train %")
        self.batch_size = guarded.IntSlider(value=c.batch_size, min=1, max=64, description="batch")
        self.feature_boxes = {name: guarded.Checkbox(value=name in c.features, description=name, indent=False,
                                                     layout=widgets.Layout(width="90px"))
                              for name in FEATURES}
        self.activation = guarded.Dropdown(options=list(ACTIVATIONS), value=c.activation, description="activation")
        rates = sorted({*LEARNING_RATES, c.lr})  # a menu, as in the TF playground: no slider snapping
        self.lr = guarded.Dropdown(options=[(f"{r:g}", r) for r in rates], value=c.lr, description="lr")
        self.regularization = guarded.Dropdown(options=list(REGULARIZATION), value=c.regularization,
                                               description="regularise")
        self.reg_rate = guarded.FloatText(value=c.reg_rate, description="rate", layout=widgets.Layout(width="180px"))
        self.add_layer = widgets.Button(description="+ layer", layout=widgets.Layout(width="80px"))
        self.remove_layer = widgets.Button(description="- layer", layout=widgets.Layout(width="80px"))
        self.units_box = widgets.HBox()
        self._make_unit_fields()
        self.play_button = widgets.Button(description="Play", icon="play", button_style="success")
        self.pause_button = widgets.Button(description="Pause", icon="pause")
        self.step_button = widgets.Button(description="Step epoch", icon="step-forward")
        self.reset_button = widgets.Button(description="Reset", icon="undo")
        self.export_button = widgets.Button(description="Export code", icon="code")
        settings: list[widgets.Widget] = [self.dataset, self.noise, self.train_percent, self.batch_size, self.activation,
                                          self.lr, self.regularization, self.reg_rate,
                                          *self.feature_boxes.values()]
        for control in settings:
            control.observe(self._on_setting, names="value")
        self.add_layer.on_click(lambda _b: self._add_layer())
        self.remove_layer.on_click(lambda _b: self._remove_layer())
        self.play_button.on_click(lambda _b: self.play())
        self.pause_button.on_click(lambda _b: self.pause())
        self.step_button.on_click(lambda _b: self.step())
        self.reset_button.on_click(lambda _b: self.reset())
        self.export_button.on_click(lambda _b: self.show_code())
        row = widgets.Layout(flex_flow="row wrap")
        self.controls_box = widgets.VBox([
            widgets.HBox([self.play_button, self.pause_button, self.step_button, self.reset_button,
                          self.export_button], layout=row),
            widgets.HBox([self.dataset, self.noise, self.train_percent, self.batch_size], layout=row),
            widgets.HBox([widgets.Label("features"), *self.feature_boxes.values()], layout=row),
            widgets.HBox([widgets.Label("hidden layers"), self.add_layer, self.remove_layer, self.units_box,
                          self.activation], layout=row),
            widgets.HBox([self.lr, self.regularization, self.reg_rate], layout=row)])

    def _add_layer(self) -> None:
        with self._lock:
            hidden = self._wanted.hidden
            self.set_hidden([*hidden, hidden[-1] if hidden else 4])

    def _remove_layer(self) -> None:
        with self._lock:
            self.set_hidden(self._wanted.hidden[:-1])

    def _make_unit_fields(self) -> None:
        old = list(self.units_box.children)
        fields = []
        for i, units in enumerate(self.config.hidden):
            field = guarded.BoundedIntText(value=units, min=1, max=MAX_UNITS, layout=widgets.Layout(width="60px"),
                                           tooltip=f"units in hidden layer {i + 1}")
            field.observe(lambda change, i=i: self._on_units(i, change["new"]), names="value")
            fields.append(field)
        self.units_box.children = fields
        for field in old:
            field.close()

    # ---- changes: observers validate and enqueue; the run's UI pump applies --------------------
    # Controls may fire on several threads at once (ipykernel 7 subshells). An observer
    # builds the new settings from the ones last *asked for* (self._wanted), checks them, and
    # queues them; live settings (learning rate, regularisation) also go to the session as
    # commands at once. Everything that writes widgets (a rebuild, a message, the unit
    # fields, the exported code) runs in the pump thread (_Applier.tick -> _apply_pending).
    def _on_setting(self, change: dict[str, Any]) -> None:
        owner, value = change["owner"], change["new"]
        with self._lock:
            if self._closed:
                return
            wanted = self._wanted
            name = next((n for n, box in self.feature_boxes.items() if box is owner), None)
            if name is not None:
                on = set(wanted.features) - {name} | ({name} if value else set())
                self._request(replace(wanted, features=[n for n in FEATURES if n in on]))
                return
            field = next((f for f, c in self._setting_controls().items() if c is owner), None)
            if field is None:
                return
            kinds: dict[str, Callable[[Any], Any]] = {"noise": lambda v: round(float(v), 6), "train_percent": int,
                                                      "batch_size": int, "lr": float, "reg_rate": float}
            self._request(replace(wanted, **{field: kinds.get(field, lambda v: v)(value)}))

    def _setting_controls(self) -> dict[str, widgets.Widget]:
        return {"dataset": self.dataset, "noise": self.noise, "train_percent": self.train_percent,
                "batch_size": self.batch_size, "activation": self.activation, "lr": self.lr,
                "regularization": self.regularization, "reg_rate": self.reg_rate}

    def _on_units(self, index: int, units: int) -> None:
        with self._lock:
            hidden = list(self._wanted.hidden)
            if index < len(hidden) and not self._closed:
                hidden[index] = int(units)
                self._request(replace(self._wanted, hidden=hidden))

    def set_hidden(self, hidden: list[int]) -> None:
        """Ask for hidden layers of these sizes (0..6 layers of 1..16 units): a new network,
        built by the UI pump (see :meth:`settle`); a bad value is refused with a message."""
        with self._lock:
            if not self._closed:
                self._request(replace(self._wanted, hidden=[int(u) for u in hidden]))

    def _request(self, candidate: PlaygroundConfig) -> None:
        """Check ``candidate`` and queue it (caller holds self._lock)."""
        try:
            candidate.check()
        except ValueError as error:
            self._queue(message=f"{error}; kept the previous setting", resync=True)
            return
        if candidate == self._wanted:
            return
        self._wanted = candidate
        if self.session is not None and self.loss is not None:  # commands to the run, not widgets
            self.session.lr = candidate.lr
            self.loss.kind, self.loss.rate = candidate.regularization, candidate.reg_rate
        self._queue(message="")

    def _queue(self, message: str | None = None, resync: bool = False, code: bool = False) -> None:
        if message is not None:
            self._pending_message = message
        self._pending_resync |= resync
        self._pending_code |= code
        self._settled.clear()
        self._applier.active = True
        self._applier.poke()

    def settle(self, timeout: float = 60.0) -> None:
        """Wait until the UI pump has applied every change asked for so far (for scripts
        and tests; a notebook user never needs it).

        Raises:
            TimeoutError: not applied within ``timeout`` seconds.
        """
        if not self._settled.wait(timeout):
            raise TimeoutError(f"the playground did not apply its settings within {timeout} s")

    def _apply_pending(self) -> None:
        """Apply what the observers queued (UI pump thread only).

        One at a time: right after a rebuild the applier sits on the new run's pump while
        the old run's pump thread is still finishing this call.
        """
        with self._apply_lock:
            self._apply_pending_now()

    def _apply_pending_now(self) -> None:
        with self._lock:
            wanted, message, resync, code = (self._wanted, self._pending_message, self._pending_resync,
                                             self._pending_code)
            self._pending_message, self._pending_resync, self._pending_code = None, False, False
            self._applier.active = False
        if self._closed:
            self._settled.set()
            return
        previous = self.config
        structural = {k: v for k, v in wanted.__dict__.items() if k not in LIVE_SETTINGS}
        if structural != {k: v for k, v in previous.__dict__.items() if k not in LIVE_SETTINGS}:
            self.config = wanted
            self.rebuild()
        self.config = wanted
        with self._run_lock:  # a live change may have reached the run that was just replaced
            if self.session is not None and self.loss is not None:
                if self.session.requested_hyperparameter("lr") != wanted.lr:
                    self.session.lr = wanted.lr
                self.loss.kind, self.loss.rate = wanted.regularization, wanted.reg_rate
        if len(wanted.hidden) != len(previous.hidden) or [f.value for f in self.units_box.children] != wanted.hidden:
            self._make_unit_fields()
        if resync:  # show the settings asked for again after a refused change
            with self._lock:
                latest = self._wanted.features
            for name, box in self.feature_boxes.items():
                box.value = name in latest
        if message is not None:
            self.message.value = message_html(message, "warning") if message else ""
        if code:
            self.code.layout.display = "block"
        if code or self.code.layout.display != "none":
            self.code.value = export_code(wanted)
        with self._lock:
            if not self._applier.active:
                self._settled.set()

    # ---- the run ------------------------------------------------------------------------------
    def rebuild(self) -> None:
        """Stop the current run and build a new network, data and session from the settings
        (the constructor and the UI pump call this; elsewhere use :meth:`settle` after a change)."""
        with self._run_lock:
            if self._closed:  # close() won the race with a queued rebuild
                return
            config = self.config
            was_running = self.session is not None and self.session.state == "running"
            self._release()
            data = toy2d(config.dataset, config.n, config.noise, config.seed,
                         val_fraction=round(1 - config.train_percent / 100, 6))
            train, val = data.loaders(batch_size=config.batch_size, seed=config.seed)
            model = build_model(config)
            self.loss = RegularizedLoss(model, config.regularization, config.reg_rate)
            self.session = TrainingSession(model, train, val, loss_fn=self.loss, lr=config.lr, epochs=EPOCHS)
            self.boundary = DecisionBoundary(self.session, unit_grid=False)
            self.diagram = NetworkDiagram(self.boundary)
            self.curves = TrainingCurves(self.session)
            self.diagram.layout.flex = "0 0 auto"  # the diagram beside the map, as in the TF playground
            self.boundary.layout.flex = "1 1 380px"
            self.views_box.children = [
                widgets.HBox([self.diagram, self.boundary],
                             layout=widgets.Layout(flex_flow="row wrap", align_items="flex-start")),
                self.curves]
            self._applier.attach(self.session)
            if was_running:
                self.session.start()

    def _release(self) -> None:
        if self.session is not None:
            self.session.stop(timeout=30)
        for view in (self.diagram, self.boundary, self.curves):
            if view is not None:
                view.close()
        self.boundary = self.curves = self.diagram = None

    def play(self) -> None:
        with self._run_lock:
            if self.session is not None and not self._closed:
                self.session.start()

    def pause(self) -> None:
        with self._run_lock:
            if self.session is not None and not self._closed:
                self.session.pause()

    def step(self) -> None:
        """Train one epoch, then pause."""
        with self._run_lock:
            if self.session is not None and not self._closed:
                self.session.step(self.session.steps_per_epoch or 1)

    def reset(self) -> None:
        """Back to the initial weights of the current network, history cleared."""
        with self._run_lock:
            if self.session is not None and self.loss is not None and not self._closed:
                self.session.reset()
                wanted = self._wanted
                self.session.lr = wanted.lr
                self.loss.kind, self.loss.rate = wanted.regularization, wanted.reg_rate

    def export_code(self, epochs: int = 10) -> str:
        """The current network and training loop as standalone PyTorch code."""
        return export_code(self._wanted, epochs)

    def show_code(self) -> None:
        """Show the exported code under the playground (written by the UI pump)."""
        with self._lock:
            self._queue(code=True)

    def close(self) -> None:
        """Stop training and close every widget (safe to call twice)."""
        if not claim_close(self, "_lock"):
            return
        with self._run_lock:
            self._applier.detach()
            self._release()
        self._settled.set()
        close_tree(self)


class _Applier:
    """The playground's entry on its current run's UI pump: active only while changes wait,
    so an idle playground costs the pump nothing."""

    min_interval = 0.0

    def __init__(self, playground: Playground) -> None:
        self._playground = weakref.ref(playground)
        self.active = False
        self._pump: UiPump | None = None

    def attach(self, session: TrainingSession) -> None:
        """Move to ``session``'s pump (after a rebuild)."""
        pump = context_for(session).pump
        if pump is not self._pump:
            self.detach()
            self._pump = pump
            pump.register(self)

    def detach(self) -> None:
        if self._pump is not None:
            self._pump.unregister(self)
            self._pump = None

    def poke(self) -> None:
        if self._pump is not None:
            self._pump.poke()

    def tick(self) -> None:
        playground = self._playground()
        if playground is not None:
            playground._apply_pending()


__all__ = ["MAX_LAYERS", "Playground"]
