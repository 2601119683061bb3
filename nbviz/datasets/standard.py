"""MNIST, Fashion-MNIST and CIFAR-10 for users with a network (downloads go through torchvision).

Each loader returns a torch ``Dataset`` of ``(image, label)`` pairs, like torchvision's own:
by default the image is a float tensor in [0, 1] (``ToTensor``: 1 x 28 x 28 or 3 x 32 x 32) and
the label an ``int``; ``.classes`` names the classes; ``train`` picks the training or the test
split. Wrap it in a ``torch.utils.data.DataLoader`` as usual. Nothing is downloaded unless
``download=True``; without the files a :class:`DatasetNotFoundError` says where they were looked
for and what to do.

MNIST and Fashion-MNIST load through ``torchvision.datasets``. CIFAR-10 downloads through
``torchvision.datasets.CIFAR10`` (which verifies the archive's checksum) but loads through
:class:`Cifar10`, a reader of the standard python pickle batches of our own: torchvision's
class verifies every batch's md5 on each load, which refuses any file but the original ones
(so small test files cannot be read), and unpickles without restriction. Our reader checks
the batches' layout instead and only lets the unpickler build numpy arrays.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from torch.utils.data import Dataset

PathLike = str | os.PathLike

_MNIST_FILES = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]
_CIFAR_FOLDER = "cifar-10-batches-py"
_CIFAR_TRAIN = [f"data_batch_{i}" for i in range(1, 6)]
_CIFAR_TEST = ["test_batch"]
_CIFAR_META = "batches.meta"
_ALTERNATIVES = ("or use nbviz.datasets.digits() or nbviz.datasets.shapes(), "
                 "which are built in and need no download")


class DatasetNotFoundError(FileNotFoundError):
    """The files of a standard dataset are not on disk and no download was asked for."""


def _root(root: object) -> Path:
    if not isinstance(root, (str, os.PathLike)) or str(root) == "":
        raise TypeError(f"root must be a folder path (str or pathlib.Path), got {root!r}")
    return Path(root).expanduser()


def _not_found(name: str, folder: Path, missing: list[str]) -> DatasetNotFoundError:
    return DatasetNotFoundError(
        f"{name} files not found in {folder} (missing: {', '.join(missing)}). Pass download=True "
        f"to fetch them (needs a network), {_ALTERNATIVES}.")


def _default_transform(transform: Callable | None) -> Callable:
    if transform is not None:
        return transform
    from torchvision.transforms import ToTensor

    return ToTensor()


def _download_failed(name: str, folder: Path, exc: BaseException) -> RuntimeError:
    return RuntimeError(f"Downloading {name} into {folder} failed: {exc}. Check the network "
                        f"connection, copy the files there by hand, {_ALTERNATIVES}.")


def _idx_dataset(cls_name: str, root: object, train: bool, download: bool,
                 transform: Callable | None, target_transform: Callable | None) -> Dataset:
    import torchvision.datasets as tvd

    cls = getattr(tvd, cls_name)
    base = _root(root)
    raw = base / cls_name / "raw"
    processed = base / cls_name / "processed"  # torchvision's legacy cache, still accepted
    legacy = all((processed / f).is_file() for f in ("training.pt", "test.pt"))
    missing = [f for f in _MNIST_FILES if not (raw / f).is_file()]
    if missing and not legacy and not download:
        raise _not_found(cls_name, raw, missing)
    try:
        return cls(str(base), train=bool(train), download=bool(download),
                   transform=_default_transform(transform), target_transform=target_transform)
    except (OSError, RuntimeError) as exc:
        if download and any(not (raw / f).is_file() for f in _MNIST_FILES):
            raise _download_failed(cls_name, raw, exc) from exc
        raise


def mnist(root: PathLike, train: bool = True, download: bool = False,
          transform: Callable | None = None, target_transform: Callable | None = None) -> Dataset:
    """MNIST handwritten digits (``torchvision.datasets.MNIST``): 1 x 28 x 28 floats in [0, 1].

    Files are read from ``root/MNIST/raw/`` (the four uncompressed idx-ubyte files).

    Raises:
        DatasetNotFoundError: files missing and ``download`` is False.
        RuntimeError: ``download=True`` and the download failed.
    """
    return _idx_dataset("MNIST", root, train, download, transform, target_transform)


def fashion_mnist(root: PathLike, train: bool = True, download: bool = False,
                  transform: Callable | None = None,
                  target_transform: Callable | None = None) -> Dataset:
    """Fashion-MNIST (``torchvision.datasets.FashionMNIST``): 1 x 28 x 28 floats in [0, 1].

    Files are read from ``root/FashionMNIST/raw/`` (same idx-ubyte names as MNIST).

    Raises:
        DatasetNotFoundError: files missing and ``download`` is False.
        RuntimeError: ``download=True`` and the download failed.
    """
    return _idx_dataset("FashionMNIST", root, train, download, transform, target_transform)


class _ArrayUnpickler(pickle.Unpickler):
    """Builds dicts, lists, strings and numpy arrays only: nothing else a pickle asks for."""

    _ALLOWED = {("numpy", "ndarray"), ("numpy", "dtype"),
                ("numpy._core.multiarray", "_reconstruct"), ("numpy.core.multiarray", "_reconstruct"),
                ("numpy._core.multiarray", "scalar"), ("numpy.core.multiarray", "scalar")}

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a CIFAR-10 batch")
        if module.startswith("numpy.core.") and int(np.__version__.split(".")[0]) >= 2:
            module = "numpy._core." + module.removeprefix("numpy.core.")
        return super().find_class(module, name)


def _read_pickle(path: Path) -> dict:
    with open(path, "rb") as f:
        try:
            entry = _ArrayUnpickler(f, encoding="latin1").load()
        except (pickle.UnpicklingError, EOFError, ValueError, TypeError) as exc:
            raise ValueError(f"{path} is not a CIFAR-10 python batch: {exc}") from exc
    if not isinstance(entry, dict):
        raise ValueError(f"{path} is not a CIFAR-10 python batch (holds a {type(entry).__name__})")
    return {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in entry.items()}


class Cifar10(Dataset):
    """CIFAR-10 read from the standard python batches in ``root/cifar-10-batches-py/``.

    ``data`` is a uint8 array (N, 32, 32, 3) and ``targets`` a list of ints, as in
    torchvision; ``transform`` receives a PIL image (default: ``ToTensor``).
    """

    def __init__(self, root: PathLike, train: bool = True, transform: Callable | None = None,
                 target_transform: Callable | None = None) -> None:
        self.root = _root(root)
        self.train = bool(train)
        self.transform = _default_transform(transform)
        self.target_transform = target_transform
        folder = self.root / _CIFAR_FOLDER
        names = (_CIFAR_TRAIN if self.train else _CIFAR_TEST) + [_CIFAR_META]
        missing = [f for f in names if not (folder / f).is_file()]
        if missing:
            raise _not_found("CIFAR-10", folder, missing)
        data: list[Any] = []
        targets: list[int] = []
        for name in names[:-1]:
            entry = _read_pickle(folder / name)
            pixels = np.asarray(entry.get("data"))
            labels = entry.get("labels")
            if pixels.dtype != np.uint8 or pixels.ndim != 2 or pixels.shape[1] != 3 * 32 * 32:
                raise ValueError(f"{folder / name}: 'data' must be uint8 of shape (N, 3072), "
                                 f"got {pixels.dtype} {pixels.shape}")
            if labels is None or len(labels) != len(pixels):
                raise ValueError(f"{folder / name}: needs 'labels', one per image")
            data.append(pixels)
            targets.extend(int(y) for y in labels)
        self.data = np.concatenate(data).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
        self.targets = targets
        meta = _read_pickle(folder / _CIFAR_META)
        self.classes = [str(c.decode() if isinstance(c, bytes) else c)
                        for c in meta.get("label_names", [])]
        if len(self.classes) != 10 or not all(0 <= y < 10 for y in targets):
            raise ValueError(f"{folder}: expected 10 label_names in {_CIFAR_META} and labels 0-9")
        self.class_to_idx = {c: i for i, c in enumerate(self.classes)}

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        from PIL import Image

        image: Any = Image.fromarray(self.data[index])
        target: Any = self.targets[index]
        if self.transform is not None:
            image = self.transform(image)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return image, target

    def __repr__(self) -> str:
        split = "train" if self.train else "test"
        return f"Cifar10({len(self)} {split} images from {self.root / _CIFAR_FOLDER})"


def cifar10(root: PathLike, train: bool = True, download: bool = False,
            transform: Callable | None = None,
            target_transform: Callable | None = None) -> Cifar10:
    """CIFAR-10: 3 x 32 x 32 floats in [0, 1] from ``root/cifar-10-batches-py/``.

    ``download=True`` fetches and checksums the archive with ``torchvision.datasets.CIFAR10``
    when files are missing; loading always goes through :class:`Cifar10`.

    Raises:
        DatasetNotFoundError: files missing and ``download`` is False.
        RuntimeError: ``download=True`` and the download failed.
    """
    base = _root(root)
    folder = base / _CIFAR_FOLDER
    needed = _CIFAR_TRAIN + _CIFAR_TEST + [_CIFAR_META]
    if download and any(not (folder / f).is_file() for f in needed):
        import torchvision.datasets as tvd

        try:
            tvd.CIFAR10(str(base), train=bool(train), download=True)
        except (OSError, RuntimeError) as exc:
            raise _download_failed("CIFAR-10", folder, exc) from exc
    return Cifar10(base, train=train, transform=transform, target_transform=target_transform)


__all__ = ["Cifar10", "DatasetNotFoundError", "cifar10", "fashion_mnist", "mnist"]
