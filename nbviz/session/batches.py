"""Turning whatever a DataLoader yields into (inputs, targets) on the right device."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch


class BatchFormatError(TypeError):
    """A batch is not (inputs, targets) in any form nbviz understands."""


@dataclass(frozen=True)
class BatchFormat:
    """Where the inputs and the targets are in a batch.

    Tuples and lists use positions 0 and 1; dicts use ``input_key`` and ``target_key``.
    """

    input_key: str = "input"
    target_key: str = "target"

    def split(self, batch: Any) -> tuple[torch.Tensor, torch.Tensor]:
        """Return (inputs, targets) of ``batch``.

        Raises:
            BatchFormatError: naming what the batch is and how to make it fit.
        """
        if type(batch) is tuple or type(batch) is list:  # the usual DataLoader batch, checked first
            if len(batch) >= 2 and isinstance(batch[0], torch.Tensor) and isinstance(batch[1], torch.Tensor):
                return batch[0], batch[1]
        if isinstance(batch, Mapping):
            missing = [k for k in (self.input_key, self.target_key) if k not in batch]
            if missing:
                raise BatchFormatError(
                    f"the batch is a dict with keys {sorted(map(str, batch))}, but nbviz looks for "
                    f"the inputs under {self.input_key!r} and the targets under "
                    f"{self.target_key!r} ({', '.join(map(repr, missing))} missing). "
                    "Pass input_key=... and target_key=... to TrainingSession to name yours.")
            inputs, targets = batch[self.input_key], batch[self.target_key]
        elif isinstance(batch, Sequence) and not isinstance(batch, (str, bytes)):
            if len(batch) < 2:
                raise BatchFormatError(
                    f"the batch is a {type(batch).__name__} of length {len(batch)}; nbviz needs "
                    "(inputs, targets). Make the dataset return (input, target) pairs.")
            inputs, targets = batch[0], batch[1]
        else:
            raise BatchFormatError(
                f"the batch is a {type(batch).__name__}; nbviz needs (inputs, targets) as a "
                "tuple, list or dict. Make the dataset return (input, target) pairs, or a dict "
                "and pass input_key=/target_key= to TrainingSession.")
        for what, value in (("inputs", inputs), ("targets", targets)):
            if not isinstance(value, torch.Tensor):
                raise BatchFormatError(
                    f"the batch's {what} are a {type(value).__name__}, not a torch.Tensor. "
                    "Convert them in the dataset (e.g. transforms.ToTensor() or torch.as_tensor).")
        return inputs, targets


def to_device(tensor: torch.Tensor, device: torch.device) -> torch.Tensor:
    return tensor if tensor.device == device else tensor.to(device, non_blocking=True)
