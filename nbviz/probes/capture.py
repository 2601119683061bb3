"""Layer discovery and activation capture on the probe batch, without changing training.

Every forward pass here runs under :func:`~nbviz.probes.guard.probe_mode` (eval, no_grad,
RNG forked, modes restored) and, through a session, via ``run_at_batch_boundary`` so it
never races a training step. Hooks exist only for the duration of one probe forward pass
and are removed in a ``finally`` block, whatever happens.

Example:
    >>> layers = discover_layers(model, inputs)          # one forward pass, every submodule
    >>> [layer.name for layer in layers if layer.spatial]
    ['conv1', 'relu1', 'conv2', ...]
    >>> acts = capture_activations(model, inputs, ["conv2"])
    >>> acts["conv2"].shape                              # N x C x H x W, a CPU copy
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from .diagnose import locate_forward_failure
from .guard import model_device, probe_mode

DEFAULT_TIMEOUT = 30.0
"""Seconds a display probe waits for the training thread's next batch boundary."""


@dataclass(frozen=True)
class LayerInfo:
    """One submodule as seen in a probe forward pass.

    Attributes:
        name: dotted name (``layer1.0.conv1``), as in ``model.named_modules()``.
        type: the module's class name.
        output_shape: shape of one sample's output (batch axis dropped); () if the output
            is not a tensor.
        params: number of parameters, nested submodules included.
        trainable: True if any of those parameters requires grad.
        calls: how often the module ran in the pass (a reused ReLU runs more than once;
            captures keep the last call).
        order: position of the module's first output in the pass.
    """

    name: str
    type: str
    output_shape: tuple[int, ...]
    params: int
    trainable: bool
    calls: int
    order: int

    @property
    def spatial(self) -> bool:
        """True for outputs with channels and two spatial axes (C x H x W)."""
        return len(self.output_shape) == 3

    @property
    def vector(self) -> bool:
        """True for flat per-sample outputs (features or logits)."""
        return len(self.output_shape) == 1

    @property
    def channels(self) -> int:
        return self.output_shape[0] if self.output_shape else 0


def _first_tensor(value: Any) -> torch.Tensor | None:
    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, (tuple, list)):
        for item in value:
            found = _first_tensor(item)
            if found is not None:
                return found
    if isinstance(value, dict):
        for item in value.values():
            found = _first_tensor(item)
            if found is not None:
                return found
    return None


def _prepare(model: nn.Module, inputs: torch.Tensor) -> torch.Tensor:
    if not isinstance(inputs, torch.Tensor):
        raise TypeError(f"probe inputs must be a torch.Tensor, got {type(inputs).__name__}")
    if inputs.dim() == 0 or len(inputs) == 0:
        raise ValueError(f"probe inputs need a batch axis with at least one sample, got shape {tuple(inputs.shape)}")
    return inputs.to(model_device(model))


def discover_layers(model: nn.Module, inputs: torch.Tensor) -> list[LayerInfo]:
    """Every submodule that produced an output in one probe forward pass, in execution order.

    Modules that never run (unused heads) are left out. The root module is not listed.

    Raises:
        Exception: whatever the forward pass raised (see :func:`discover_until_failure`).
    """
    layers, error = discover_until_failure(model, inputs)
    if error is not None:
        raise error
    return layers


def discover_until_failure(model: nn.Module, inputs: torch.Tensor
                           ) -> tuple[list[LayerInfo], BaseException | None]:
    """Like :func:`discover_layers`, but a failing forward pass gives the layers that ran
    before it and the error, so a view can still show a broken model up to the failure."""
    inputs = _prepare(model, inputs)
    names = {module: name for name, module in model.named_modules() if name}
    seen: dict[str, list[Any]] = {}  # name -> [order, shape, calls]
    handles = []

    def hook(module: nn.Module, _args: Any, output: Any) -> None:
        name = names.get(module)
        if name is None:
            return
        tensor = _first_tensor(output)
        shape = tuple(tensor.shape[1:]) if tensor is not None and tensor.dim() > 0 else ()
        if name in seen:
            seen[name][1] = shape
            seen[name][2] += 1
        else:
            seen[name] = [len(seen), shape, 1]

    error: BaseException | None = None
    try:
        for module in names:
            handles.append(module.register_forward_hook(hook))
        with probe_mode(model):
            model(inputs)
    except Exception as exc:  # a broken model: keep what ran before the failure
        error = exc
    finally:
        for handle in handles:
            handle.remove()
    modules = dict(model.named_modules())
    layers = []
    for name, (order, shape, calls) in seen.items():
        params = list(modules[name].parameters())
        layers.append(LayerInfo(name=name, type=type(modules[name]).__name__, output_shape=shape,
                                params=sum(p.numel() for p in params),
                                trainable=any(p.requires_grad for p in params),
                                calls=calls, order=order))
    return sorted(layers, key=lambda layer: layer.order), error


class UnknownLayerError(KeyError):
    """A layer name that is not a submodule of the model."""

    def __str__(self) -> str:
        return str(self.args[0])


def resolve_layers(model: nn.Module, names: Sequence[str]) -> dict[str, nn.Module]:
    """Map dotted names to submodules, refusing unknown names with the closest known ones."""
    modules = dict(model.named_modules())
    resolved = {}
    for name in names:
        if not isinstance(name, str) or not name or name not in modules:
            known = [n for n in modules if n]
            near = [n for n in known if isinstance(name, str) and name and name.split(".")[-1] in n][:5]
            hint = f"; did you mean {', '.join(near)}?" if near else f"; known layers start with {', '.join(known[:6])}"
            raise UnknownLayerError(f"{name!r} is not a submodule of {type(model).__name__}{hint}")
        resolved[name] = modules[name]
    return resolved


class _EnoughCaptured(Exception):
    """Raised from a hook to end a probe pass once every wanted output is in hand."""


def capture_activations(model: nn.Module, inputs: torch.Tensor, names: Sequence[str],
                        calls: Mapping[str, int] | None = None) -> dict[str, torch.Tensor]:
    """The outputs of the named layers for ``inputs``, as detached CPU float copies.

    Copies are taken as the module returns, so an in-place op later in the pass (resnet's
    ``ReLU(inplace=True)`` after a BatchNorm) cannot change what was captured. A module
    that runs several times keeps its last output.

    Args:
        calls: how often each named module runs in a pass (``LayerInfo.calls``). When
            given, the pass stops as soon as every module has run that often, so probing
            an early layer of a big model skips the rest of the network.

    Raises:
        UnknownLayerError: a name is not a submodule of ``model``.
        ValueError: a named layer did not run in the forward pass.
    """
    modules = resolve_layers(model, names)
    inputs = _prepare(model, inputs)
    captured: dict[str, torch.Tensor] = {}
    seen = dict.fromkeys(modules, 0)
    expected = {name: max(int(calls.get(name, 0)), 1) for name in modules} if calls is not None else None
    handles = []

    def make_hook(name: str):
        def hook(_module: nn.Module, _args: Any, output: Any) -> None:
            tensor = _first_tensor(output)
            if tensor is not None:
                captured[name] = tensor.detach().to("cpu", torch.float32, copy=True)
            seen[name] += 1
            if expected is not None and all(seen[n] >= expected[n] for n in expected):
                raise _EnoughCaptured
        return hook

    try:
        for name, module in modules.items():
            handles.append(module.register_forward_hook(make_hook(name)))
        with probe_mode(model):
            try:
                model(inputs)
            except _EnoughCaptured:
                pass
    finally:
        for handle in handles:
            handle.remove()
    missing = [name for name in modules if name not in captured]
    if missing:
        raise ValueError(f"layer(s) {', '.join(missing)} did not produce a tensor in the forward pass "
                         "(the model's forward() never calls them)")
    return captured


# ---- through a session ------------------------------------------------------------------
def session_layers(session: Any, timeout: float = DEFAULT_TIMEOUT) -> tuple[list[LayerInfo], str | None]:
    """The layers of ``session.model`` found from one probe forward pass at a batch boundary,
    and, for a model whose forward pass fails, why (the layers are those that ran before).

    Views reach it through their run context, which caches it so discovery happens once per run.
    """
    inputs, _ = session.probe_batch(1)
    model = session.model

    def discover() -> tuple[list[LayerInfo], str | None]:
        layers, error = discover_until_failure(model, inputs[:1])
        if error is None:
            return layers, None
        failure = locate_forward_failure(model, _prepare(model, inputs[:1]))
        return layers, failure.message() if failure is not None else f"{type(error).__name__}: {error}"

    return session.run_at_batch_boundary(discover).result(timeout)


def session_activations(session: Any, names: Sequence[str], inputs: torch.Tensor,
                        timeout: float = DEFAULT_TIMEOUT) -> tuple[dict[str, torch.Tensor], int]:
    """Capture ``names`` for ``inputs`` at the next batch boundary.

    Returns:
        The activations and the training step they were taken at.

    Raises:
        TimeoutError: the training thread did not reach a batch boundary in ``timeout`` s.
    """
    return submit_activations(session, names, inputs).result(timeout)


def submit_activations(session: Any, names: Sequence[str], inputs: torch.Tensor,
                       calls: Mapping[str, int] | None = None) -> Future:
    """Like :func:`session_activations` but returns the Future at once (no waiting).

    Views use it so the shared UI pump never blocks on the training thread: they check
    ``future.done()`` on later ticks.
    """
    model = session.model
    names = list(names)

    def probe() -> tuple[dict[str, torch.Tensor], int]:
        return capture_activations(model, inputs, names, calls), session.step_count

    return session.run_at_batch_boundary(probe)


def nbviz_hooks(model: nn.Module) -> list[tuple[str, str]]:
    """(module name, hook kind) of every hook left on ``model`` (for leak checks)."""
    found = []
    for name, module in model.named_modules():
        for kind in ("_forward_hooks", "_forward_pre_hooks", "_backward_hooks",
                     "_backward_pre_hooks", "_forward_hooks_with_kwargs"):
            if getattr(module, kind, None):
                found.append((name or "<root>", kind))
    return found


__all__ = ["DEFAULT_TIMEOUT", "LayerInfo", "UnknownLayerError", "capture_activations", "discover_layers",
           "discover_until_failure", "nbviz_hooks", "resolve_layers", "session_activations", "session_layers",
           "submit_activations"]
