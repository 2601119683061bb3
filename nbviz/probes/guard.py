"""Run a model for display without changing anything training depends on."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import nn


@contextlib.contextmanager
def probe_mode(model: nn.Module) -> Iterator[nn.Module]:
    """Eval mode, no autograd, and the RNG state restored afterwards.

    Every submodule's own ``training`` flag is restored on exit (not only the root's), so a
    model that keeps some parts in eval on purpose is left as it was. In eval mode BatchNorm
    uses and does not update its running statistics, and dropout draws no random numbers;
    the RNG is still forked in case a module draws anyway.
    """
    modes = [(m, m.training) for m in model.modules()]
    devices = sorted({p.device.index for p in model.parameters() if p.device.type == "cuda"
                      and p.device.index is not None})
    try:
        with torch.random.fork_rng(devices=devices), torch.no_grad():
            model.eval()
            yield model
    finally:
        for module, training in modes:
            module.training = training


def model_device(model: nn.Module) -> torch.device:
    for parameter in model.parameters():
        return parameter.device
    for buffer in model.buffers():
        return buffer.device
    return torch.device("cpu")
