"""Two chosen scalar parameters: the plane that moves only them, for a loss over (w1, w2).

Each choice is (parameter name, flat index), e.g. ("fc.weight", 0) and ("fc.bias", 3). The
plane's directions are the unit vectors of those two coordinates, so a grid point is the
current weights with the two values shifted by (a, b), and projecting a recorded snapshot
gives exactly its two values (its distance from the plane is how far all the *other*
weights were from where they are now).
"""

from __future__ import annotations

import torch
from torch import nn

from .directions import flat_parameters
from .surface import Plane

Choice = tuple[str, int]


def parameter_sizes(model: nn.Module) -> dict[str, int]:
    """Trainable parameter names and their number of values, in model order."""
    return {name: p.numel() for name, p in model.named_parameters() if p.requires_grad}


def flat_index(model: nn.Module, choice: Choice) -> int:
    """The position of one scalar parameter in the flat vector (see flat_parameters).

    Raises:
        ValueError: an unknown or frozen parameter name, or an index out of range.
    """
    name, index = choice
    offset = 0
    sizes = parameter_sizes(model)
    for other, size in sizes.items():
        if other == name:
            if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < size:
                raise ValueError(f"index {index!r} is outside 0..{size - 1} for {name!r}")
            return offset + index
        offset += size
    raise ValueError(f"{name!r} is not a trainable parameter; choose one of: {', '.join(list(sizes)[:12])}")


def two_parameter_plane(model: nn.Module, first: Choice, second: Choice) -> Plane:
    """The plane through the current weights along two scalar parameters.

    Raises:
        ValueError: an unknown parameter, an index out of range, or the same value twice.
    """
    i, j = flat_index(model, first), flat_index(model, second)
    if i == j:
        raise ValueError(f"the two parameters are the same ({first[0]}[{first[1]}]): pick two different ones")
    origin = flat_parameters(model)
    d1, d2 = torch.zeros_like(origin), torch.zeros_like(origin)
    d1[i], d2[j] = 1.0, 1.0
    return Plane(origin, d1, d2, kind="params",
                 note=f"{first[0]}[{first[1]}] = {float(origin[i]):.4g} + a, "
                      f"{second[0]}[{second[1]}] = {float(origin[j]):.4g} + b")
