"""Typed hooks fired by every kind of session (TrainingSession, watch(), the integrations)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .base import SessionBase

HOOKS = ("on_train_start", "on_train_end", "on_batch_end", "on_after_backward",
         "on_epoch_end", "on_exception")


class Callback:
    """Override the hooks you need; each runs in the training loop's thread (keep it cheap).

    A callback that raises is detached and the error recorded in the run's history; training
    goes on. Register one with ``session.add_callback(callback)``.

    Example:
        >>> class PrintLoss(nbviz.Callback):
        ...     def on_batch_end(self, run):
        ...         print(run.step_count, run.history.last("train_loss"))
    """

    def on_train_start(self, run: SessionBase) -> None:
        """A loop began (TrainingSession.start, the first checkpoint of a watched loop)."""

    def on_train_end(self, run: SessionBase) -> None:
        """The loop ended: finished, stopped or failed (see ``run.state``)."""

    def on_after_backward(self, run: SessionBase) -> None:
        """Gradients of this batch exist; the optimizer has not stepped yet."""

    def on_batch_end(self, run: SessionBase) -> None:
        """The optimizer stepped. ``run.step_count`` counts this batch, except in a watch()
        loop, where this fires right after ``optimizer.step()`` and your ``viz.log()`` then
        counts the batch."""

    def on_epoch_end(self, run: SessionBase) -> None:
        """An epoch ended (validation metrics, if any, are in the history)."""

    def on_exception(self, run: SessionBase, error: BaseException) -> None:
        """The loop failed with ``error`` (``on_train_end`` follows)."""
