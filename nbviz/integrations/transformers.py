"""Hugging Face ``Trainer``: see and steer ``trainer.train()`` from an nbviz Dashboard.

Example:
    >>> from nbviz.integrations.transformers import NbvizCallback, train_in_thread
    >>> viz = NbvizCallback(model)
    >>> viz.dashboard()
    >>> trainer = Trainer(model=model, args=args, train_dataset=ds, callbacks=[viz])
    >>> train_in_thread(viz, trainer)          # the cell returns at once
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable
from typing import Any

try:
    import transformers
    from transformers import TrainerCallback
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError("nbviz.integrations.transformers needs transformers: "
                      "pip install 'nbviz[transformers]'") from exc

from torch import nn

from ..session.watch import Watch

MIN_VERSION = (4, 40)


def _check_version() -> None:
    parts = tuple(int(p) for p in transformers.__version__.split(".")[:2] if p.isdigit())
    if parts < MIN_VERSION:
        raise ImportError(f"nbviz supports transformers >= {'.'.join(map(str, MIN_VERSION))}, "
                          f"found {transformers.__version__}; upgrade: "
                          "pip install -U 'nbviz[transformers]'")


def _metric_name(name: str) -> str:
    """eval_loss -> val_loss, so the dashboard's validation curves show the Trainer's eval."""
    return "val_" + name[len("eval_"):] if name.startswith("eval_") else name


class NbvizCallback(TrainerCallback):
    """A ``TrainerCallback`` that is also an nbviz session (a :class:`~nbviz.Watch`).

    Pause and Step block in ``on_step_end`` (after an optimizer step, before the next);
    Stop sets ``control.should_training_stop`` (and ``should_save`` where the run saves
    checkpoints), so the run ends cleanly; a new learning rate applies from the next step and
    the LR scheduler (e.g. linear warmup) is rescaled so it does not undo it. Training loss
    (as the Trainer logs it), evaluation metrics (as ``val_*``) and epochs go to the history.

    Args:
        model: the model given to the Trainer.
        probe_data: batches for the views that look inside the model.

    Raises:
        RuntimeError: when one callback is given to a second Trainer, or watches another model.
    """

    def __init__(self, model: nn.Module, *, probe_data: Iterable | None = None,
                 **watch_kwargs: Any) -> None:
        _check_version()
        self.viz = Watch(model, None, probe_data=probe_data, **watch_kwargs)
        self.viz.hook_optimizer = False  # this callback fires the batch hooks itself
        self._control: Any = None

    def dashboard(self) -> Any:
        return self.viz.dashboard()

    def on_init_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self._control is not None and self._control is not control:
            raise RuntimeError("this NbvizCallback is already attached to another Trainer; make "
                               "one NbvizCallback per Trainer (one dashboard per run)")
        model = kwargs.get("model")
        if model is not None and model is not self.viz.model:
            raise RuntimeError("this NbvizCallback watches another model; pass the model you "
                               "train: NbvizCallback(model)")
        self._control = control

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        viz = self.viz
        optimizer = kwargs.get("optimizer")
        if optimizer is None:
            raise RuntimeError("the Trainer has no optimizer to steer")
        viz.optimizer = optimizer
        scheduler = kwargs.get("lr_scheduler")
        viz.lr_schedulers = [getattr(scheduler, "scheduler", scheduler)] if scheduler else []
        epochs = int(args.num_train_epochs) if args.num_train_epochs else 0
        viz.epochs = epochs if epochs > 0 and args.max_steps <= 0 else None
        if viz.epochs and state.max_steps:
            viz.steps_per_epoch = max(1, state.max_steps // viz.epochs)
        viz.total_steps = state.max_steps or None
        viz._begin_loop()
        viz._end_known = True
        self._obey(args, control)

    def on_pre_optimizer_step(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.viz._fire("on_after_backward")

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        viz = self.viz
        viz.count_samples(args.per_device_train_batch_size * args.gradient_accumulation_steps)
        viz.log(max(state.global_step, viz.step_count))
        self._obey(args, control)

    def _obey(self, args: Any, control: Any) -> None:
        if not self.viz.checkpoint():
            control.should_training_stop = True
            if getattr(args, "save_strategy", "no") not in ("no", None) and args.output_dir:
                control.should_save = True

    def on_log(self, args: Any, state: Any, control: Any, logs: dict | None = None,
               **kwargs: Any) -> None:
        logs = logs or {}
        if "train_runtime" in logs:  # the end-of-run summary, not a step
            return
        values = {}
        for name, value in logs.items():
            if isinstance(value, numbers.Real) and not isinstance(value, bool):
                values["train_loss" if name == "loss" else _metric_name(name)] = float(value)
        values.pop("epoch", None)
        values.pop("learning_rate", None)  # logged as lr at every step
        if values:
            self.viz.history.log(max(state.global_step, self.viz.step_count), **values)

    def on_evaluate(self, args: Any, state: Any, control: Any, metrics: dict | None = None,
                    **kwargs: Any) -> None:
        values = {_metric_name(k): float(v) for k, v in (metrics or {}).items()
                  if k.startswith("eval_") and isinstance(v, numbers.Real)
                  and not k.endswith(("_runtime", "_per_second"))}
        if values:
            self.viz.history.log(self.viz.step_count, **values)

    def on_epoch_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.viz._end_epoch()

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.viz._end_loop()


def train_in_thread(callback: NbvizCallback, trainer: Any, **train_kwargs: Any) -> Watch:
    """Run ``trainer.train(**train_kwargs)`` in a background thread; the cell returns at once.

    ``viz.wait()`` re-raises a failure.

    Raises:
        ValueError: ``callback`` is not among the trainer's callbacks.
    """
    if callback not in getattr(getattr(trainer, "callback_handler", None), "callbacks", ()):
        raise ValueError("pass the Trainer its callback: Trainer(..., callbacks=[callback])")
    callback.viz.run_in_thread(trainer.train, **train_kwargs)
    return callback.viz
