"""Playground: one widget for a lesson on a 2-D toy problem, on a real TrainingSession.

Pick a dataset, its noise and train/validation ratio, the input features, hidden layers
(add/remove, units per layer), activation, learning rate, L1/L2 regularisation and batch
size; press Play, Pause, Step (one epoch) or Reset. Below: the decision boundary with every
hidden unit's map (:class:`~nbviz.views.decision_boundary.DecisionBoundary`) and the train and
validation loss curves. "Export code" shows the same network and loop as plain PyTorch.

Learning rate and regularisation apply to the running session at the next batch; any other
change builds a new network and session (as a fresh start), because it changes the data or
the network's shape. ``playground.session`` is an ordinary TrainingSession, so every other
nbviz view works on it too.

Example:
    >>> play = nbviz.Playground(dataset="spiral", features=["x1", "x2", "sin(x1)", "sin(x2)"])
    >>> play            # last line of a cell: shows it; press Play
"""

from __future__ import annotations

import threading
from typing import Any

import ipywidgets as widgets

from ..datasets.toy2d import TOY2D_KINDS, toy2d
from ..session.session import TrainingSession
from ..widgets import guarded
from .base import close_tree, message_html
from .curves import TrainingCurves
from .decision_boundary import DecisionBoundary
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
        self._lock = threading.RLock()
        self._closed = False
        self._syncing = False
        self.session: TrainingSession | None = None
        self.boundary: DecisionBoundary | None = None
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
        self.add_layer.on_click(lambda _b: self.set_hidden([*self.config.hidden, self.config.hidden[-1]
                                                            if self.config.hidden else 4]))
        self.remove_layer.on_click(lambda _b: self.set_hidden(self.config.hidden[:-1]))
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

    # ---- changes (may arrive on several threads: all under one lock) -----------------------
    def _on_setting(self, _change: dict[str, Any]) -> None:
        with self._lock:
            if self._closed or self._syncing:
                return
            previous = self.config
            features = [name for name, box in self.feature_boxes.items() if box.value]
            candidate = PlaygroundConfig(
                dataset=self.dataset.value, noise=round(float(self.noise.value), 6),
                train_percent=int(self.train_percent.value), features=features, hidden=list(previous.hidden),
                activation=self.activation.value, lr=float(self.lr.value), regularization=self.regularization.value,
                reg_rate=float(self.reg_rate.value), batch_size=int(self.batch_size.value), n=previous.n,
                seed=previous.seed)
            self._apply(candidate)

    def _on_units(self, index: int, units: int) -> None:
        with self._lock:
            hidden = list(self.config.hidden)
            if index < len(hidden):
                hidden[index] = int(units)
                self.set_hidden(hidden)

    def set_hidden(self, hidden: list[int]) -> None:
        """Set the hidden layers' sizes (0..6 layers of 1..16 units); builds a new network."""
        with self._lock:
            if self._closed:
                return
            old = self.config
            candidate = PlaygroundConfig(**{**old.__dict__, "hidden": list(hidden)})
            if self._apply(candidate) and len(hidden) != len(old.hidden):
                self._make_unit_fields()

    def _apply(self, candidate: PlaygroundConfig) -> bool:
        try:
            candidate.check()
        except ValueError as error:
            self.message.value = message_html(f"{error}; kept the previous setting", "warning")
            self._syncing = True
            try:
                for name, box in self.feature_boxes.items():  # show the features in force again
                    box.value = name in self.config.features
            finally:
                self._syncing = False
            return False
        previous, self.config = self.config, candidate
        self.message.value = ""
        structural = {k: v for k, v in candidate.__dict__.items() if k not in LIVE_SETTINGS}
        if structural != {k: v for k, v in previous.__dict__.items() if k not in LIVE_SETTINGS}:
            self.rebuild()
        else:
            self._apply_live()
        return True

    def _apply_live(self) -> None:
        if self.session is not None and self.loss is not None:
            self.session.lr = self.config.lr
            self.loss.kind, self.loss.rate = self.config.regularization, self.config.reg_rate
        if self.code.layout.display != "none":
            self.code.value = export_code(self.config)

    # ---- the run ------------------------------------------------------------------------------
    def rebuild(self) -> None:
        """Stop the current run and build a new network, data and session from the settings."""
        with self._lock:
            config = self.config
            was_running = self.session is not None and self.session.state == "running"
            self._release()
            data = toy2d(config.dataset, config.n, config.noise, config.seed,
                         val_fraction=round(1 - config.train_percent / 100, 6))
            train, val = data.loaders(batch_size=config.batch_size, seed=config.seed)
            model = build_model(config)
            self.loss = RegularizedLoss(model, config.regularization, config.reg_rate)
            self.session = TrainingSession(model, train, val, loss_fn=self.loss, lr=config.lr, epochs=EPOCHS)
            self.boundary = DecisionBoundary(self.session)
            self.curves = TrainingCurves(self.session)
            self.views_box.children = [self.boundary, self.curves]
            if self.code.layout.display != "none":
                self.code.value = export_code(config)
            if was_running:
                self.session.start()

    def _release(self) -> None:
        if self.session is not None:
            self.session.stop(timeout=30)
        for view in (self.boundary, self.curves):
            if view is not None:
                view.close()
        self.boundary = self.curves = None

    def play(self) -> None:
        with self._lock:
            if self.session is not None:
                self.session.start()

    def pause(self) -> None:
        with self._lock:
            if self.session is not None:
                self.session.pause()

    def step(self) -> None:
        """Train one epoch, then pause."""
        with self._lock:
            if self.session is not None:
                self.session.step(self.session.steps_per_epoch or 1)

    def reset(self) -> None:
        """Back to the initial weights of the current network, history cleared."""
        with self._lock:
            if self.session is not None:
                self.session.reset()
                self._apply_live()

    def export_code(self, epochs: int = 10) -> str:
        """The current network and training loop as standalone PyTorch code."""
        return export_code(self.config, epochs)

    def show_code(self) -> None:
        with self._lock:
            self.code.value = export_code(self.config)
            self.code.layout.display = "block"

    def close(self) -> None:
        """Stop training and close every widget (safe to call twice)."""
        lock = getattr(self, "_lock", None)
        if lock is None:
            widgets.Widget.close(self)
            return
        with lock:
            if self._closed:
                return
            self._closed = True
            self._release()
        close_tree(self)


__all__ = ["MAX_LAYERS", "Playground"]
