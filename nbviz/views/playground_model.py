"""The playground's network, loss and exported code, built from one :class:`PlaygroundConfig`.

The model is an ordinary ``nn.Sequential`` whose first module computes the chosen input
features (x1, x2, x1², ...) from the 2-D point, so the model itself takes 2-D points and
every nbviz view (DecisionBoundary included) works on it. :func:`export_code` writes the
same network and training loop as standalone PyTorch; under the same seed it trains to the
same losses as the playground's :class:`~nbviz.TrainingSession`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn

from ..datasets.toy2d import TOY2D_KINDS

FEATURES: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "x1": lambda a, b: a, "x2": lambda a, b: b, "x1^2": lambda a, b: a * a, "x2^2": lambda a, b: b * b,
    "x1*x2": lambda a, b: a * b, "sin(x1)": lambda a, b: torch.sin(a), "sin(x2)": lambda a, b: torch.sin(b)}
FEATURE_CODE = {"x1": "a", "x2": "b", "x1^2": "a * a", "x2^2": "b * b", "x1*x2": "a * b",
                "sin(x1)": "torch.sin(a)", "sin(x2)": "torch.sin(b)"}
ACTIVATIONS: dict[str, type[nn.Module]] = {"tanh": nn.Tanh, "relu": nn.ReLU, "sigmoid": nn.Sigmoid,
                                           "linear": nn.Identity}
REGULARIZATION = ("none", "L1", "L2")
MAX_LAYERS, MAX_UNITS = 6, 16


class InputFeatures(nn.Module):
    """Maps 2-D points (N x 2) to the chosen features (N x len(names))."""

    def __init__(self, names: list[str]) -> None:
        super().__init__()
        self.names = list(names)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, b = x[:, 0], x[:, 1]
        return torch.stack([FEATURES[name](a, b) for name in self.names], 1)

    def extra_repr(self) -> str:
        return ", ".join(self.names)


@dataclass
class PlaygroundConfig:
    """Everything that defines a playground run (validated by :meth:`check`)."""

    dataset: str = "circles"
    noise: float = 0.1
    train_percent: int = 50
    features: list[str] = field(default_factory=lambda: ["x1", "x2"])
    hidden: list[int] = field(default_factory=lambda: [4, 2])
    activation: str = "tanh"
    lr: float = 0.03
    regularization: str = "none"
    reg_rate: float = 0.0
    batch_size: int = 10
    n: int = 500
    seed: int = 0

    def check(self) -> PlaygroundConfig:
        """Raise ValueError naming the first bad setting; return self."""
        problems = []
        if self.dataset not in TOY2D_KINDS:
            problems.append(f"dataset {self.dataset!r} is not one of {', '.join(TOY2D_KINDS)}")
        if not 10 <= self.train_percent <= 90:
            problems.append(f"train_percent must be 10..90, got {self.train_percent}")
        unknown = [f for f in self.features if f not in FEATURES]
        if unknown or not self.features:
            problems.append(f"features must be one or more of {', '.join(FEATURES)}, got {self.features}")
        if len(self.hidden) > MAX_LAYERS or any(not 1 <= u <= MAX_UNITS for u in self.hidden):
            problems.append(f"hidden must be 0..{MAX_LAYERS} layers of 1..{MAX_UNITS} units, got {self.hidden}")
        if self.activation not in ACTIVATIONS:
            problems.append(f"activation must be one of {', '.join(ACTIVATIONS)}, got {self.activation!r}")
        if self.regularization not in REGULARIZATION:
            problems.append(f"regularization must be one of {', '.join(REGULARIZATION)}, got {self.regularization!r}")
        if not (0 <= self.reg_rate <= 10) or not (0 < self.lr <= 10):
            problems.append(f"lr must be in (0, 10] and reg_rate in [0, 10], got {self.lr}, {self.reg_rate}")
        if not 1 <= self.batch_size <= 256:
            problems.append(f"batch_size must be 1..256, got {self.batch_size}")
        if problems:
            raise ValueError("; ".join(problems))
        return self


def build_model(config: PlaygroundConfig) -> nn.Sequential:
    """The network for ``config``, initialised from ``config.seed`` (global RNG untouched)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        layers: list[nn.Module] = [InputFeatures(config.features)]
        width = len(config.features)
        for units in config.hidden:
            layers += [nn.Linear(width, units), ACTIVATIONS[config.activation]()]
            width = units
        layers.append(nn.Linear(width, 2))
        return nn.Sequential(*layers)


class RegularizedLoss:
    """Cross-entropy plus ``rate`` x (sum of |w| or w²) over the Linear layers' weights.

    The penalty is added only where gradients are recorded (training), so the validation
    loss is the plain cross-entropy and comparable between settings. ``kind`` and ``rate``
    may be changed while training runs; the next batch uses them.
    """

    def __init__(self, model: nn.Module, kind: str = "none", rate: float = 0.0) -> None:
        self.weights = [m.weight for m in model.modules() if isinstance(m, nn.Linear)]
        self.kind, self.rate = kind, rate
        self.cross_entropy = nn.CrossEntropyLoss()

    def __call__(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        loss = self.cross_entropy(outputs, targets)
        kind, rate = self.kind, self.rate
        if not torch.is_grad_enabled():
            return loss
        if kind == "L1" and rate > 0:
            loss = loss + rate * sum(w.abs().sum() for w in self.weights)
        elif kind == "L2" and rate > 0:
            loss = loss + rate * sum((w * w).sum() for w in self.weights)
        return loss


def export_code(config: PlaygroundConfig, epochs: int = 10) -> str:
    """Standalone PyTorch code for ``config``: the network as an ``nn.Module`` and its loop."""
    config.check()
    features = ", ".join(FEATURE_CODE[name] for name in config.features)
    layers, width = [], len(config.features)
    for units in config.hidden:
        layers.append(f"            nn.Linear({width}, {units}), nn.{ACTIVATIONS[config.activation].__name__}(),")
        width = units
    layers.append(f"            nn.Linear({width}, 2),")
    penalty = {"none": "",
               "L1": f"\n    loss = loss + {config.reg_rate!r} * sum(w.abs().sum() for w in weights)",
               "L2": f"\n    loss = loss + {config.reg_rate!r} * sum((w * w).sum() for w in weights)"}
    if config.reg_rate <= 0:
        penalty["L1"] = penalty["L2"] = ""
    layer_lines = "\n".join(layers)
    return f'''import torch
from torch import nn

from nbviz.datasets import toy2d  # the same points: embedded generator, no download


class PlaygroundNet(nn.Module):
    """Features {", ".join(config.features)} -> hidden {config.hidden} ({config.activation}) -> 2 classes."""

    def __init__(self):
        super().__init__()
        self.layers = nn.Sequential(
{layer_lines}
        )

    def features(self, x):
        a, b = x[:, 0], x[:, 1]
        return torch.stack([{features}], 1)

    def forward(self, x):
        return self.layers(self.features(x))


torch.manual_seed({config.seed})
model = PlaygroundNet()
data = toy2d({config.dataset!r}, n={config.n}, noise={config.noise!r}, seed={config.seed}, val_fraction={round(1 - config.train_percent / 100, 6)!r})
train_loader, val_loader = data.loaders(batch_size={config.batch_size}, seed={config.seed})
optimizer = torch.optim.SGD(model.parameters(), lr={config.lr!r}, momentum=0.9)
cross_entropy = nn.CrossEntropyLoss()
weights = [m.weight for m in model.modules() if isinstance(m, nn.Linear)]


def loss_fn(outputs, targets):
    loss = cross_entropy(outputs, targets){penalty[config.regularization]}
    return loss


losses = []
for epoch in range({epochs}):
    model.train()
    for inputs, targets in train_loader:
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(model(inputs), targets)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    model.eval()
    with torch.no_grad():
        val_loss = sum(float(cross_entropy(model(x), y)) * len(x) for x, y in val_loader) / len(data.val)
    print(f"epoch {{epoch + 1}}: train loss {{losses[-1]:.4f}}, validation loss {{val_loss:.4f}}")
'''


__all__ = ["ACTIVATIONS", "FEATURES", "InputFeatures", "PlaygroundConfig", "RegularizedLoss", "build_model",
           "export_code"]
