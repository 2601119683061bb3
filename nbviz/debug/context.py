"""What every check works on: copies of the model and optimizer, sampled batches, RNG guards."""

from __future__ import annotations

import contextlib
import copy
import random
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from ..session.batches import BatchFormat
from ..session.session import loader_generators

TrainStep = Callable[[nn.Module, torch.optim.Optimizer, torch.Tensor, torch.Tensor], Any]


@contextlib.contextmanager
def preserved_rng(loaders: Iterable[object] = ()) -> Iterator[None]:
    """Restore torch (CPU and CUDA), numpy and Python RNG states and the loaders' generators.

    Inside, the global generators are seeded with 0 so the checks themselves are repeatable.
    """
    gens = [g for loader in loaders if loader is not None for g in loader_generators(loader)]
    gen_states = [g.get_state() for g in gens]
    cuda = torch.cuda.is_available() and torch.cuda.is_initialized()
    cuda_states = torch.cuda.get_rng_state_all() if cuda else None
    torch_state = torch.get_rng_state()
    np_state = np.random.get_state()
    py_state = random.getstate()
    try:
        torch.manual_seed(0)
        yield
    finally:
        torch.set_rng_state(torch_state)
        if cuda_states is not None:
            torch.cuda.set_rng_state_all(cuda_states)
        np.random.set_state(np_state)
        random.setstate(py_state)
        for gen, state in zip(gens, gen_states, strict=True):
            gen.set_state(state)


def sample_loader(loader: Iterable, limit: int, fmt: BatchFormat
                  ) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Up to ``limit`` (inputs, targets) from ``loader`` on the CPU, and the first batch's size.

    Raises:
        ValueError: the loader yields nothing.
    """
    xs, ys, count, first = [], [], 0, 0
    for batch in loader:
        inputs, targets = fmt.split(batch)
        if not first:
            first = len(inputs)
        xs.append(inputs.detach().cpu())
        ys.append(targets.detach().cpu())
        count += len(inputs)
        if count >= limit:
            break
    if not xs:
        raise ValueError("the data loader yielded no batches; check the dataset is not empty")
    return torch.cat(xs)[:limit], torch.cat(ys)[:limit], first


def copy_optimizer(optimizer: torch.optim.Optimizer, original: nn.Module, clone: nn.Module
                   ) -> torch.optim.Optimizer:
    """The same optimizer class, hyperparameters and state, over ``clone``'s parameters."""
    mapping = {id(p): q for p, q in zip(original.parameters(), clone.parameters(), strict=True)}
    groups, complete = [], True
    for group in optimizer.param_groups:
        params = [mapping[id(p)] for p in group["params"] if id(p) in mapping]
        complete &= len(params) == len(group["params"])
        groups.append({**{k: v for k, v in group.items() if k != "params"}, "params": params})
    groups = [g for g in groups if g["params"]]
    if not groups:  # nothing of the model in the optimizer: its class and settings still apply
        groups = [{"params": [p for p in clone.parameters() if p.requires_grad]}]
    new = type(optimizer)(groups, **optimizer.defaults)
    if complete and len(new.param_groups) == len(optimizer.param_groups):
        with contextlib.suppress(Exception):
            new.load_state_dict(copy.deepcopy(optimizer.state_dict()))
    return new


def pick_output(output: Any) -> tuple[torch.Tensor | None, str]:
    """The tensor to judge in a model's output, and how it was picked ("" for a plain tensor)."""
    if isinstance(output, torch.Tensor):
        return output, ""
    if isinstance(output, dict):
        for key in ("logits", "out", "output", "outputs"):
            if isinstance(output.get(key), torch.Tensor):
                return output[key], f"[{key!r}]"
        for key, value in output.items():
            if isinstance(value, torch.Tensor):
                return value, f"[{key!r}]"
    if isinstance(output, (tuple, list)):
        for i, value in enumerate(output):
            if isinstance(value, torch.Tensor):
                return value, f"[{i}]"
    if hasattr(output, "logits") and isinstance(output.logits, torch.Tensor):
        return output.logits, ".logits"
    return None, ""


@dataclass
class CheckContext:
    """Copies and samples shared by the checks; the user's objects are only read."""

    user_model: nn.Module
    pristine: nn.Module  # deep copy taken first; checks clone it again before changing anything
    loss_fn: Callable[[Any, Any], torch.Tensor]
    loss_given: bool
    optimizer: torch.optim.Optimizer | None
    train_step: TrainStep | None
    inputs: torch.Tensor  # the first training batch (at most ``batch_limit`` samples)
    targets: torch.Tensor
    data_x: torch.Tensor  # a larger training sample for statistics
    data_y: torch.Tensor
    val_x: torch.Tensor | None = None
    val_y: torch.Tensor | None = None
    loader_batch_size: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    # filled in by the forward checks
    forward_ok: bool = False
    output: torch.Tensor | None = None
    output_path: str = ""
    num_classes: int | None = None
    trace: Any = None
    loss_value: float | None = None
    notes: dict[str, Any] = field(default_factory=dict)

    def fresh_model(self) -> nn.Module:
        """A new copy of the user's model at its current weights."""
        return copy.deepcopy(self.pristine)

    def fresh_optimizer(self, model: nn.Module) -> torch.optim.Optimizer | None:
        if self.optimizer is None:
            return None
        return copy_optimizer(self.optimizer, self.pristine, model)

    def to_device(self, tensor: torch.Tensor) -> torch.Tensor:
        return tensor.to(self.device)

    def forward(self, model: nn.Module, inputs: torch.Tensor) -> torch.Tensor:
        """``model(inputs)`` reduced to the judged output tensor (see :func:`pick_output`)."""
        out, _ = pick_output(model(self.to_device(inputs)))
        if out is None:
            raise TypeError("the model's output holds no tensor")
        return out

    def loss(self, output: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return self.loss_fn(output, self.to_device(targets))

    @property
    def classification(self) -> bool:
        """True when the loss takes class indices or one-hot targets over C outputs."""
        return isinstance(self.loss_fn, (nn.CrossEntropyLoss, nn.NLLLoss))


def named_module_of(model: nn.Module, param_name: str) -> str:
    """The module owning a parameter (``fc1.weight`` -> ``fc1``)."""
    return param_name.rsplit(".", 1)[0] if "." in param_name else ""
