"""The exported code rebuilds the very pipeline nbviz trains with (same tensors, same seed)."""

from __future__ import annotations

import torch

from nbviz.augment import (
    OPS,
    AugmentedDataset,
    ImageInfo,
    PipelineHolder,
    PipelineSpec,
    sample_seed,
)


def _run_code(code: str):
    namespace: dict = {}
    exec(compile(code, "<exported>", "exec"), namespace)  # our own generated code, not user input
    return namespace["transform"]


def _all_on(info: ImageInfo) -> PipelineSpec:
    spec = PipelineSpec.default(info)
    for op in OPS:
        spec = spec.with_changes(op.name, True)
    return spec.with_changes("rotation", degrees=33.0).with_changes("zoom", scale=(0.7, 1.1))


def test_exported_code_reproduces_every_op() -> None:
    for info in (ImageInfo(3, 32, 32), ImageInfo(1, 28, 28)):
        spec = _all_on(info)
        ours, theirs = spec.build(), _run_code(spec.code())
        x = torch.rand(info.channels, info.height, info.width)
        for seed in range(5):
            torch.manual_seed(seed)
            a = ours(x)
            torch.manual_seed(seed)
            assert torch.equal(a, theirs(x))
        torch.manual_seed(0)
        assert not torch.equal(ours(x), x)


def test_exported_code_matches_the_training_samples() -> None:
    info = ImageInfo(1, 28, 28)
    spec = PipelineSpec.default(info).with_changes("rotation", True, degrees=40.0) \
        .with_changes("noise", True, sigma=0.1).with_changes("spectral", True)
    images = torch.rand(6, 1, 28, 28)
    holder = PipelineHolder(spec, seed=7)
    holder.epoch = 3
    dataset = AugmentedDataset(torch.utils.data.TensorDataset(images, torch.arange(6)), holder)
    transform = _run_code(spec.code())
    for index in range(6):
        torch.manual_seed(sample_seed(7, 3, index))
        expected = transform(images[index])
        got, label = dataset[index]
        assert torch.equal(got, expected) and int(label) == index


def test_samples_are_seeded_by_epoch_and_index_and_leave_the_global_rng_alone() -> None:
    spec = PipelineSpec.default(ImageInfo(1, 16, 16)).with_changes("noise", True, sigma=0.2)
    holder = PipelineHolder(spec, seed=0)
    x = torch.rand(1, 16, 16)
    torch.manual_seed(123)
    state = torch.get_rng_state()
    a = holder.apply(x, 5)
    assert torch.equal(torch.get_rng_state(), state)
    assert torch.equal(a, holder.apply(x, 5))
    assert not torch.equal(a, holder.apply(x, 6))
    holder.epoch = 1
    assert not torch.equal(a, holder.apply(x, 5))
    assert len({sample_seed(0, e, i) for e in range(50) for i in range(2000)}) == 100_000


def test_empty_pipeline_code_is_identity() -> None:
    spec = PipelineSpec.default(ImageInfo(3, 8, 8))
    x = torch.rand(3, 8, 8)
    assert torch.equal(_run_code(spec.code())(x), x)
    assert PipelineHolder(spec).apply(x, 0) is x


def test_a_batch_fetch_gives_the_same_samples_and_restores_the_thread_count() -> None:
    spec = PipelineSpec.default(ImageInfo(1, 16, 16)).with_changes("rotation", True)
    images = torch.rand(5, 1, 16, 16)
    dataset = AugmentedDataset(torch.utils.data.TensorDataset(images, torch.arange(5)), PipelineHolder(spec))
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        batch = dataset.__getitems__([4, 0, 2])
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
    for (x, y), i in zip(batch, [4, 0, 2], strict=True):
        assert int(y) == i and torch.equal(x, dataset[i][0])
