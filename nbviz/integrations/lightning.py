"""PyTorch Lightning: see and steer ``trainer.fit`` from an nbviz Dashboard.

Example:
    >>> from nbviz.integrations.lightning import NbvizCallback, fit_in_thread
    >>> viz = NbvizCallback(model, probe_data=val_loader)
    >>> viz.dashboard()
    >>> trainer = L.Trainer(max_epochs=5, callbacks=[viz])
    >>> fit_in_thread(viz, trainer, model, train_loader, val_loader)   # the cell returns
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable
from typing import Any

try:
    import lightning.pytorch as pl
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError("nbviz.integrations.lightning needs Lightning: pip install 'nbviz[lightning]'") \
        from exc

from ..session.watch import Watch

MIN_VERSION = (2, 0)


def _check_version() -> None:
    parts = tuple(int(p) for p in pl.__version__.split(".")[:2] if p.isdigit())
    if parts < MIN_VERSION:
        raise ImportError(f"nbviz supports Lightning >= {'.'.join(map(str, MIN_VERSION))}, found "
                          f"{pl.__version__}; upgrade: pip install -U 'nbviz[lightning]'")


def _number(value: Any) -> float | None:
    if hasattr(value, "item") and getattr(value, "numel", lambda: 1)() == 1:
        value = value.item()
    return float(value) if isinstance(value, numbers.Real) and not isinstance(value, bool) else None


class NbvizCallback(pl.Callback):
    """A Lightning callback that is also an nbviz session (a :class:`~nbviz.Watch`).

    Pause and Step block in the batch hook (after a batch, before the next); Stop sets
    ``trainer.should_stop`` so the run ends cleanly (checkpoint callbacks still run); a new
    learning rate applies from the next batch, and the run's LR schedulers are rescaled so
    they do not undo it. Training loss, validation metrics and epochs go to the history.

    Args:
        model: the LightningModule you will fit.
        probe_data: batches for the views that look inside the model (e.g. the val loader).

    Raises:
        RuntimeError: when one callback is attached to a second trainer.
    """

    def __init__(self, model: pl.LightningModule, *, probe_data: Iterable | None = None,
                 **watch_kwargs: Any) -> None:
        _check_version()
        super().__init__()
        self.viz = Watch(model, None, probe_data=probe_data, **watch_kwargs)
        self.viz.hook_optimizer = False  # this callback fires the batch hooks itself
        self._trainer: Any = None

    def dashboard(self) -> Any:
        return self.viz.dashboard()

    # ---- Lightning hooks ---------------------------------------------------------------------
    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if self._trainer is not None and self._trainer is not trainer:
            raise RuntimeError("this NbvizCallback is already attached to another Trainer; make "
                               "one NbvizCallback per Trainer (one dashboard per run)")
        if pl_module is not self.viz.model:
            raise RuntimeError("this NbvizCallback watches another model; pass the model you "
                               "fit: NbvizCallback(model)")
        self._trainer = trainer

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        viz = self.viz
        if not trainer.optimizers:
            raise RuntimeError("the Trainer has no optimizer to steer (configure_optimizers)")
        viz.optimizer = trainer.optimizers[0]
        viz.lr_schedulers = [config.scheduler for config in trainer.lr_scheduler_configs]
        viz.epochs = trainer.max_epochs if trainer.max_epochs and trainer.max_epochs > 0 else None
        batches = trainer.num_training_batches
        viz.steps_per_epoch = int(batches) if batches != float("inf") else None
        viz._begin_loop()
        viz._end_known = True
        if not viz.checkpoint():  # Stop or Pause clicked before the first batch
            trainer.should_stop = True

    def on_after_backward(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.viz._fire("on_after_backward")

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule,
                           outputs: Any, batch: Any, batch_idx: int) -> None:
        viz = self.viz
        loss = outputs.get("loss") if isinstance(outputs, dict) else outputs
        viz.count_samples(viz._batch_size(batch))
        viz.log(max(trainer.global_step, viz.step_count), loss=_number(loss))
        if not viz.checkpoint():
            trainer.should_stop = True

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        metrics = {k: v for k, v in ((k, _number(v)) for k, v in trainer.callback_metrics.items())
                   if v is not None and k.startswith("val")}
        if metrics:
            self.viz.history.log(self.viz.step_count, **metrics)

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.viz._end_epoch()

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule,
                     exception: BaseException) -> None:
        self.viz._end_loop(exception)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.viz._end_loop()


def fit_in_thread(callback: NbvizCallback, trainer: pl.Trainer, *args: Any, **kwargs: Any) -> Watch:
    """Run ``trainer.fit(*args, **kwargs)`` in a background thread; the cell returns at once.

    Lightning installs signal handlers only from the main thread and skips them elsewhere
    (so SLURM requeue and SIGTERM handling are off for a fit run this way); ``viz.wait()``
    re-raises a failure.

    Raises:
        ValueError: ``callback`` is not among ``trainer.callbacks``.
    """
    if callback not in getattr(trainer, "callbacks", ()):
        raise ValueError("pass the Trainer its callback: L.Trainer(..., callbacks=[callback])")
    callback.viz.run_in_thread(trainer.fit, *args, **kwargs)
    return callback.viz
