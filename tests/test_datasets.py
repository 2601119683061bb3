"""Embedded datasets (digits, shapes) and the standard loaders on small files written here."""

from __future__ import annotations

import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

import nbviz.datasets as D
from nbviz.datasets.shapes import SHAPE_CLASSES


@pytest.fixture(scope="module")
def small_shapes() -> D.DataSplit:
    return D.shapes(n=400, seed=3)


def _all_images(split: D.DataSplit) -> tuple[torch.Tensor, torch.Tensor]:
    return (torch.cat([split.train.tensors[0], split.val.tensors[0]]),
            torch.cat([split.train.tensors[1], split.val.tensors[1]]))


# ---- shapes -------------------------------------------------------------------------------

def test_shapes_same_seed_gives_identical_tensors(small_shapes: D.DataSplit) -> None:
    again = D.shapes(n=400, seed=3)
    mine = small_shapes.train.tensors + small_shapes.val.tensors
    theirs = again.train.tensors + again.val.tensors
    for a, b in zip(mine, theirs, strict=True):
        assert torch.equal(a, b)


def test_shapes_different_seeds_differ(small_shapes: D.DataSplit) -> None:
    other = D.shapes(n=400, seed=4)
    assert not torch.equal(small_shapes.train.tensors[0], other.train.tensors[0])


def test_shapes_layout_range_and_balance(small_shapes: D.DataSplit) -> None:
    images, labels = _all_images(small_shapes)
    assert small_shapes.image_shape == (3, 32, 32)
    assert images.dtype == torch.float32 and labels.dtype == torch.long
    assert len(small_shapes.train) == 320 and len(small_shapes.val) == 80
    assert images.min() >= 0.0 and images.max() <= 1.0
    assert torch.isfinite(images).all()
    assert small_shapes.classes == SHAPE_CLASSES and len(set(SHAPE_CLASSES)) == 10
    assert torch.bincount(labels, minlength=10).tolist() == [40] * 10
    # Backgrounds and colours vary: images are neither flat nor alike.
    assert images.flatten(1).std(dim=1).min() > 0.02
    assert images.mean(dim=(2, 3)).std(dim=0).min() > 0.05


def test_shapes_odd_counts_stay_balanced_and_size_is_honoured() -> None:
    split = D.shapes(n=23, size=16, val_fraction=0.3, seed=1)
    images, labels = _all_images(split)
    assert images.shape == (23, 3, 16, 16)
    counts = torch.bincount(labels, minlength=10)
    assert counts.max() - counts.min() <= 1
    assert len(split.val) == 7


def test_shapes_shape_is_drawn_where_the_class_says() -> None:
    # Same draw except the label: the pixels must differ, so the class reaches the picture.
    rng_a, rng_b = np.random.default_rng(0), np.random.default_rng(0)
    from nbviz.datasets.shapes import draw_shapes

    a = draw_shapes(np.array([1] * 8), 32, rng_a)
    b = draw_shapes(np.array([6] * 8), 32, rng_b)
    assert np.abs(a - b).mean(axis=(1, 2, 3)).min() > 0.005


@pytest.mark.parametrize("kwargs, match", [
    ({"n": 5}, "n must be a whole number between 10"),
    ({"n": 100.0}, "n must be a whole number"),
    ({"n": True}, "n must be a whole number"),
    ({"size": 8}, "size must be a whole number between 16 and 256"),
    ({"val_fraction": 0.0}, "val_fraction must be between 0 and 1"),
    ({"val_fraction": 1.5}, "val_fraction must be between 0 and 1"),
    ({"val_fraction": "0.2"}, "val_fraction must be between 0 and 1"),
    ({"n": 10, "val_fraction": 0.96}, "leaves no training images"),
    ({"seed": -1}, "seed must be a whole number >= 0"),
])
def test_shapes_bad_arguments(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        D.shapes(**kwargs)


# ---- digits -------------------------------------------------------------------------------

def test_digits_shapes_and_split_sizes(digits_split: D.DataSplit) -> None:
    assert digits_split.image_shape == (1, 28, 28)
    assert len(digits_split.train) + len(digits_split.val) == 1797
    assert len(digits_split.val) == round(1797 * 0.2)
    images, labels = _all_images(digits_split)
    assert images.min() >= 0 and images.max() <= 1
    assert sorted(labels.unique().tolist()) == list(range(10))
    small = D.digits(size=8, val_fraction=0.5, seed=1)
    assert small.image_shape == (1, 8, 8) and len(small.val) == 898


@pytest.mark.parametrize("kwargs", [{"size": 4}, {"size": 28.0}, {"val_fraction": 1.0}])
def test_digits_bad_arguments(kwargs: dict) -> None:
    with pytest.raises(ValueError, match="size|val_fraction"):
        D.digits(**kwargs)


# ---- standard datasets on small files in the real formats ---------------------------------

def _write_idx(path: Path, array: np.ndarray) -> None:
    """The idx-ubyte format of MNIST: magic (0, 0, 0x08 = uint8, ndim), big-endian dims, data."""
    path.parent.mkdir(parents=True, exist_ok=True)
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def _write_mnist_like(root: Path, folder: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(0)
    written = {}
    for prefix, n in (("train", 6), ("t10k", 4)):
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, n, dtype=np.uint8)
        _write_idx(root / folder / "raw" / f"{prefix}-images-idx3-ubyte", images)
        _write_idx(root / folder / "raw" / f"{prefix}-labels-idx1-ubyte", labels)
        written[prefix] = (images, labels)
    return written


@pytest.mark.parametrize("loader, folder", [(D.mnist, "MNIST"), (D.fashion_mnist, "FashionMNIST")])
def test_idx_loaders_read_small_files(tmp_path: Path, loader, folder: str) -> None:
    written = _write_mnist_like(tmp_path, folder)
    train = loader(tmp_path)
    test = loader(str(tmp_path), train=False)
    assert len(train) == 6 and len(test) == 4
    image, label = train[2]
    assert isinstance(image, torch.Tensor) and image.dtype == torch.float32
    assert image.shape == (1, 28, 28)
    assert torch.allclose(image[0], torch.from_numpy(written["train"][0][2]).float() / 255)
    assert label == int(written["train"][1][2]) and isinstance(label, int)
    assert test[3][1] == int(written["t10k"][1][3])
    assert len(train.classes) == 10
    batch, labels = next(iter(torch.utils.data.DataLoader(train, batch_size=6)))
    assert batch.shape == (6, 1, 28, 28) and labels.tolist() == written["train"][1].tolist()


def test_idx_loader_honours_a_custom_transform(tmp_path: Path) -> None:
    _write_mnist_like(tmp_path, "MNIST")
    dataset = D.mnist(tmp_path, transform=lambda img: np.asarray(img).sum(),
                      target_transform=lambda y: -y)
    value, target = dataset[0]
    assert isinstance(value, np.integer) and target <= 0


def _write_cifar(root: Path) -> dict[str, tuple[np.ndarray, list[int]]]:
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(1)
    written = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        data = rng.integers(0, 256, (3, 3072), dtype=np.uint8)
        labels = rng.integers(0, 10, 3).tolist()
        with open(folder / name, "wb") as f:
            pickle.dump({"batch_label": name, "data": data, "labels": labels,
                         "filenames": [f"{name}_{i}.png" for i in range(3)]}, f)
        written[name] = (data, labels)
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({"label_names": ["airplane", "automobile", "bird", "cat", "deer", "dog",
                                     "frog", "horse", "ship", "truck"],
                     "num_cases_per_batch": 3, "num_vis": 3072}, f)
    return written


def test_cifar10_reads_small_batches(tmp_path: Path) -> None:
    written = _write_cifar(tmp_path)
    train = D.cifar10(tmp_path)
    test = D.cifar10(tmp_path, train=False)
    assert len(train) == 15 and len(test) == 3
    assert train.classes[0] == "airplane" and train.class_to_idx["truck"] == 9
    image, label = train[4]  # second image of data_batch_2
    data, labels = written["data_batch_2"]
    assert image.shape == (3, 32, 32) and image.dtype == torch.float32
    expected = torch.from_numpy(data[1].reshape(3, 32, 32)).float() / 255
    assert torch.allclose(image, expected)
    assert label == labels[1]
    assert test[2][1] == written["test_batch"][1][2]
    assert "15 train images" in repr(train)


def test_cifar10_refuses_a_pickle_that_builds_other_objects(tmp_path: Path) -> None:
    _write_cifar(tmp_path)
    with open(tmp_path / "cifar-10-batches-py" / "test_batch", "wb") as f:
        pickle.dump({"data": Path("x"), "labels": [1]}, f)
    with pytest.raises(ValueError, match="test_batch is not a CIFAR-10 python batch"):
        D.cifar10(tmp_path, train=False)


def test_cifar10_checks_the_batch_layout(tmp_path: Path) -> None:
    _write_cifar(tmp_path)
    with open(tmp_path / "cifar-10-batches-py" / "test_batch", "wb") as f:
        pickle.dump({"data": np.zeros((2, 100), np.uint8), "labels": [1, 2]}, f)
    with pytest.raises(ValueError, match=r"shape \(N, 3072\)"):
        D.cifar10(tmp_path, train=False)


@pytest.mark.parametrize("loader, where, first_missing", [
    (D.mnist, "MNIST/raw", "train-images-idx3-ubyte"),
    (D.fashion_mnist, "FashionMNIST/raw", "train-images-idx3-ubyte"),
    (D.cifar10, "cifar-10-batches-py", "data_batch_1"),
])
def test_missing_files_say_where_and_what_to_do(tmp_path: Path, loader, where: str,
                                                first_missing: str) -> None:
    with pytest.raises(D.DatasetNotFoundError) as info:
        loader(tmp_path / "data")
    message = str(info.value)
    assert str(tmp_path / "data" / where) in message
    assert first_missing in message
    assert "download=True" in message and "digits()" in message and "shapes()" in message
    assert isinstance(info.value, FileNotFoundError)


def test_partial_mnist_names_only_the_missing_files(tmp_path: Path) -> None:
    _write_mnist_like(tmp_path, "MNIST")
    (tmp_path / "MNIST" / "raw" / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(D.DatasetNotFoundError, match=r"missing: t10k-labels-idx1-ubyte\)"):
        D.mnist(tmp_path)


def test_failed_download_is_explained(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import torchvision.datasets as tvd

    def no_network(self) -> None:
        raise RuntimeError("Error downloading train-images-idx3-ubyte.gz")

    monkeypatch.setattr(tvd.MNIST, "download", no_network)
    with pytest.raises(RuntimeError, match="Downloading MNIST into .* failed.*network"):
        D.mnist(tmp_path, download=True)


def test_root_must_be_a_path() -> None:
    with pytest.raises(TypeError, match="root must be a folder path"):
        D.mnist(None)  # type: ignore[arg-type]
