"""nbviz.check: findings with location and fix, copies only (bit-identical), report rendering."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import nbviz
from nbviz.debug import Report
from nbviz.debug.context import preserved_rng


class TutorialCNN(nn.Module):
    """The tutorial's CNN: fc1 sized for 64x7x7, but 3x3 convolutions leave 64x5x5."""

    def __init__(self, use_view: bool = False) -> None:
        super().__init__()
        self.use_view = use_view
        self.conv1 = nn.Conv2d(1, 32, 3)
        self.conv2 = nn.Conv2d(32, 64, 3)
        self.fc1 = nn.Linear(64 * 7 * 7, 1024)
        self.fc2 = nn.Linear(1024, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = x.view(-1, 64 * 7 * 7) if self.use_view else x.flatten(1)  # VIEW-LINE
        return self.fc2(F.relu(self.fc1(x)))


def digit_loaders(split, batch_size=32):
    return split.loaders(batch_size=batch_size)


def test_tutorial_cnn_names_fc1_shapes_and_fix(digits_split):
    train, _ = digit_loaders(digits_split)
    report = nbviz.check(TutorialCNN(), train, experiments=())
    finding = report["forward.shapes"]
    assert finding.status == "fail"
    assert "64×5×5 = 1600 features reach fc1, which expects 3136 = 64×7×7" in finding.summary
    assert "nn.Linear(64*5*5, 1024)" in finding.fix
    assert finding.location.startswith("fc1")
    assert "test_debug_check.py" in finding.location


def test_failing_view_is_located_by_file_and_line(digits_split):
    train, _ = digit_loaders(digits_split)
    finding = nbviz.check(TutorialCNN(use_view=True), train, experiments=())["forward.shapes"]
    line = next(i + 1 for i, text in enumerate(open(__file__).read().splitlines())
                if "VIEW-LINE" in text and "use_view else" in text)
    assert finding.status == "fail"
    assert finding.location.endswith(f"test_debug_check.py:{line}")
    assert "x.view(-1, 3136)" in finding.summary and "64×5×5 = 1600" in finding.summary
    assert "x.flatten(1)" in finding.fix


def test_everything_runs_on_copies_bit_identical(digits_split):
    train, val = digit_loaders(digits_split)
    model = nbviz.models.SmallCNN()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    # give the optimizer state (momentum buffers) and the model gradients to preserve
    x, y = next(iter(train))
    F.cross_entropy(model(x), y).backward()
    optimizer.step()
    weights = {k: v.clone() for k, v in model.state_dict().items()}
    grads = [p.grad.clone() for p in model.parameters()]
    opt_state = {k: v["momentum_buffer"].clone() for k, v in optimizer.state_dict()["state"].items()}
    modes = [m.training for m in model.modules()]
    torch.manual_seed(123)
    np.random.seed(5)
    random.seed(7)
    states = (torch.get_rng_state(), np.random.get_state()[1].copy(), random.getstate(),
              train.generator.get_state())

    report = nbviz.check(model, train, nn.CrossEntropyLoss(), optimizer, val,
                         train_step=lambda m, o, a, b: (o.zero_grad(), F.cross_entropy(m(a), b)
                                                        .backward(), o.step()),
                         experiments=("overfit", "lr_range"))
    assert isinstance(report, Report) and len(report) > 20

    assert all(torch.equal(weights[k], v) for k, v in model.state_dict().items())
    assert all(torch.equal(g, p.grad) for g, p in zip(grads, model.parameters(), strict=True))
    after = optimizer.state_dict()["state"]
    assert all(torch.equal(v, after[k]["momentum_buffer"]) for k, v in opt_state.items())
    assert [m.training for m in model.modules()] == modes
    assert torch.equal(states[0], torch.get_rng_state())
    assert np.array_equal(states[1], np.random.get_state()[1])
    assert states[2] == random.getstate()
    assert torch.equal(states[3], train.generator.get_state())


def test_reference_cnn_gets_a_clean_report_with_pictures(digits_split):
    train, val = digit_loaders(digits_split)
    model = nbviz.models.SmallCNN()
    report = nbviz.check(model, train, nn.CrossEntropyLoss(),
                         torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9), val,
                         experiments=("lr_range",))
    assert report.ok, str(report)
    html = report._repr_html_()
    assert "data:image/png;base64," in html and "<svg" in html
    text = str(report)
    assert text.startswith("nbviz.check of SmallCNN: 0 failed")
    assert report["experiments.lr_range"].summary.startswith("the loss falls fastest at lr")


def test_flagged_findings_come_first_with_fix_and_location(digits_split):
    class SoftmaxNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))

        def forward(self, x):
            return torch.softmax(self.net(x), dim=1)

    train, _ = digit_loaders(digits_split)
    report = nbviz.check(SoftmaxNet(), train, experiments=())
    finding = report["loss.input"]
    assert finding.status == "fail" and "test_debug_check.py" in finding.location
    assert report.problems[0] is finding
    text = str(report)
    assert "fix: return the logits" in text


def test_non_image_data_says_not_applicable():
    x = torch.randn(200, 5)
    y = (x[:, 0] > 0).long()
    loader = DataLoader(TensorDataset(x, y), batch_size=20)
    report = nbviz.check(nn.Sequential(nn.Linear(5, 16), nn.ReLU(), nn.Linear(16, 2)), loader,
                         experiments=())
    assert "not images" in report["data.grid"].summary
    assert report["forward.shapes"].status == "pass"


@pytest.mark.parametrize("bad, message", [
    (dict(loader=5), "loader must be an iterable"),
    (dict(loss_fn="ce"), "loss_fn must be callable"),
    (dict(optimizer=object()), "optimizer must be a torch.optim.Optimizer"),
    (dict(experiments=("nope",)), "unknown experiments"),
])
def test_bad_arguments_name_what_is_wrong(bad, message):
    loader = DataLoader(TensorDataset(torch.randn(8, 4), torch.zeros(8, dtype=torch.long)),
                        batch_size=4)
    kwargs = dict(loader=loader) | bad
    with pytest.raises((TypeError, ValueError), match=message):
        nbviz.check(nn.Linear(4, 2), **kwargs)


def test_preserved_rng_restores_every_stream():
    gen = torch.Generator().manual_seed(3)
    loader = DataLoader(TensorDataset(torch.arange(10)), shuffle=True, generator=gen)
    torch.manual_seed(1), np.random.seed(1), random.seed(1)
    expected = (torch.rand(3), np.random.rand(3), random.random(), torch.randperm(10, generator=gen))
    torch.manual_seed(1), np.random.seed(1), random.seed(1)
    gen.manual_seed(3)
    with preserved_rng([loader]):
        list(loader), torch.rand(5), np.random.rand(3), random.random()
    after = (torch.rand(3), np.random.rand(3), random.random(), torch.randperm(10, generator=gen))
    assert torch.equal(expected[0], after[0]) and np.array_equal(expected[1], after[1])
    assert expected[2] == after[2] and torch.equal(expected[3], after[3])


def test_torchvision_models_run_the_checklist():
    tv = pytest.importorskip("torchvision")
    x = torch.rand(32, 3, 32, 32)
    y = torch.randint(0, 10, (32,))
    loader = DataLoader(TensorDataset(x, y), batch_size=16)
    for build in (tv.models.resnet18, tv.models.mobilenet_v3_small):
        report = nbviz.check(build(weights=None, num_classes=10), loader, experiments=())
        for check in ("forward.shapes", "forward.batch_independence", "backward.grads",
                      "backward.grad_scale", "initialisation.first_loss", "loss.call"):
            assert report[check].status == "pass", (build.__name__, report[check].text())
