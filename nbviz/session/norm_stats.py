"""A backup of the normalisation layers' running statistics, taken before each forward pass.

BatchNorm updates its running mean and variance during the forward pass, before the loss is
known; a step whose loss fails or is not finite puts them back from this backup, so one bad
batch leaves no trace in the model.

Walking the module tree to find those buffers costs too much for every step, so the list is
kept, and found again only when the tree may have changed since it was made:

- a module or buffer was set anywhere, at any time (``model.features[1] = nn.BatchNorm2d(16)``,
  ``bn.running_mean = t``): torch's global registration hooks bump a counter, read per step;
- the run paused, or started again: meanwhile the user may have changed the model in ways no
  hook sees (``model.to(...)``, ``del model.bn``, writes to ``_modules``);
- a new epoch began, or session commands ran (the caller's ``moments``).
"""

from __future__ import annotations

import threading
from typing import Any

import torch
from torch import nn
from torch.nn.modules import module as torch_module

_generation = 0  # bumped whenever torch registers a module or buffer, in any thread
_hooks_lock = threading.Lock()
_hooked = False


def _registered(*_args: Any) -> None:
    """A torch registration hook: counts, changes nothing (returns None)."""
    global _generation
    _generation += 1


def _install_hooks() -> None:
    global _hooked
    with _hooks_lock:
        if not _hooked:
            torch_module.register_module_module_registration_hook(_registered)
            torch_module.register_module_buffer_registration_hook(_registered)
            _hooked = True


def tree_generation() -> int:
    """A number that changes whenever a module or buffer is set on any module (after the first
    :class:`NormStatsBackup` was made)."""
    return _generation


def norm_buffers(model: nn.Module) -> list[torch.Tensor]:
    """The buffers (running mean, variance, batch count) of every normalisation layer."""
    return [b for m in model.modules() if isinstance(m, nn.modules.batchnorm._NormBase)
            for b in m.buffers(recurse=False)]


class NormStatsBackup:
    """Saves and restores a model's normalisation statistics around a training step."""

    def __init__(self) -> None:
        _install_hooks()
        self._buffers: list[torch.Tensor] = []
        self._saved: list[torch.Tensor] = []
        self._from: list[torch.Tensor] = []  # the buffers the last save copied
        self._key: tuple[Any, ...] | None = None

    def forget(self) -> None:
        """Find the buffers again at the next step (the model may have changed)."""
        self._key = None

    def buffers(self, model: nn.Module, moments: tuple[int, ...]) -> list[torch.Tensor]:
        """The current buffers of ``model``; found again when ``moments`` (counters that move
        when the caller's model may have changed) or the module tree's generation changed."""
        key = (model, _generation, moments)
        if self._key != key:
            self._buffers = norm_buffers(model)
            self._key = key  # the generation read before the walk: a change during it is seen next
        return self._buffers

    @property
    def saved(self) -> list[torch.Tensor]:
        """The copies taken by the last :meth:`save`."""
        return self._saved

    def save(self, model: nn.Module, moments: tuple[int, ...]) -> None:
        """Copy the statistics (small) into the backup, reusing its tensors when they fit."""
        buffers = self._from = self.buffers(model, moments)
        saved = self._saved
        if not buffers:
            return
        if len(saved) == len(buffers) and all(
                a.shape == b.shape and a.dtype == b.dtype and a.device == b.device
                for a, b in zip(saved, buffers, strict=True)):
            with torch.no_grad():
                torch._foreach_copy_(saved, buffers)  # one op for all, not one per buffer
        else:
            self._saved = [b.detach().clone() for b in buffers]

    def restore(self) -> None:
        """Put the values of the last :meth:`save` back where they were copied from."""
        buffers = self._from
        if buffers and len(buffers) == len(self._saved):
            with torch.no_grad():
                for saved, buffer in zip(self._saved, buffers, strict=True):
                    buffer.copy_(saved)
