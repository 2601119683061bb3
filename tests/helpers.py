"""Small shared helpers for tests: tiny seeded loaders and polling."""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable

import torch
from torch.utils.data import DataLoader, TensorDataset


def make_loader(n: int = 256, batch_size: int = 16, seed: int = 0, shuffle: bool = True) -> DataLoader:
    """Random 1x28x28 images with 10 classes, in a seeded order."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 1, 28, 28, generator=g)
    y = torch.randint(0, 10, (n,), generator=g)
    return DataLoader(TensorDataset(x, y), batch_size=batch_size, shuffle=shuffle,
                      generator=torch.Generator().manual_seed(seed))


def wait_until(predicate: Callable[[], bool], timeout: float = 60.0, what: str | None = None) -> None:
    """Poll ``predicate`` until it holds.

    ``timeout`` only guards against a hang (a loaded CI machine may be many times slower than
    a quiet one), so it is generous; the failure names the condition (``what``, or the
    predicate's source line) so that a timeout says what did not happen.
    """
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached within {timeout:g} s: {what or _describe(predicate)}")
        time.sleep(0.01)


def _describe(predicate: Callable[[], bool]) -> str:
    try:
        source = inspect.getsource(predicate)
    except (OSError, TypeError):
        return repr(predicate)
    return " ".join(source.split())[:400]


def manual_step(model, optimizer, stats, run, x, y) -> None:
    """One training step that calls a recorder's callbacks as the session would."""
    optimizer.zero_grad()
    torch.nn.functional.cross_entropy(model(x), y).backward()
    stats.on_after_backward(run)
    optimizer.step()
    run.step_count += 1
    stats.on_batch_end(run)


class TutorialCNN(torch.nn.Module):
    """A tutorial's classic bug: fc1 expects 64x7x7 features, 64x6x6 arrive (28x28 inputs)."""

    def __init__(self, classes: int = 10) -> None:
        super().__init__()
        self.conv1 = torch.nn.Conv2d(1, 32, 3)
        self.conv2 = torch.nn.Conv2d(32, 64, 3)
        self.pool = torch.nn.MaxPool2d(2)
        self.fc1 = torch.nn.Linear(64 * 7 * 7, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(self.pool(torch.relu(self.conv2(torch.relu(self.conv1(x))))))
        return self.fc1(x.flatten(1))


def pause_step_then_set_lr(viz, seen_lr: list, lr: float) -> int:
    """Pause a running framework fit, check it holds, step once, set ``lr`` and resume.

    Returns the step it was paused at; ``seen_lr`` is the lr the model saw at each batch.
    """
    wait_until(lambda: viz.step_count >= 5)
    viz.pause()
    wait_until(lambda: viz.state == "paused")
    frozen = viz.step_count
    time.sleep(0.3)
    assert viz.step_count == frozen and len(seen_lr) == frozen
    viz.step(1)
    wait_until(lambda: viz.step_count == frozen + 1 and viz.state == "paused")
    viz.set_hyperparameter("lr", lr)
    viz.resume()
    wait_until(lambda: viz.step_count >= frozen + 8)
    return frozen
