"""Putting the current pipeline between a session's dataset and its training DataLoader.

:class:`PipelineHolder` keeps the pipeline in force (swapped atomically, under a lock);
:class:`AugmentedDataset` applies it to every training sample, seeded by (seed, epoch, index)
so a run is reproducible; :func:`attach` rebuilds ``session.train_loader`` around it.
"""

from __future__ import annotations

import contextlib
import threading
import weakref
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future
from typing import Any

import torch
from torch.utils.data import BatchSampler, DataLoader, Dataset, IterableDataset
from torchvision.transforms import v2

from .ops import AugmentationError
from .pipeline import PipelineSpec, image_info

_MASK = (1 << 63) - 1


def sample_seed(seed: int, epoch: int, index: int) -> int:
    """The torch seed nbviz uses for sample ``index`` in ``epoch`` (a 64-bit mix, splitmix64)."""
    z = (int(seed) * 0x9E3779B97F4A7C15 + int(epoch) * 0xBF58476D1CE4E5B9 + int(index)) & ((1 << 64) - 1)
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & ((1 << 64) - 1)
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & ((1 << 64) - 1)
    return (z ^ (z >> 31)) & _MASK


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """torch intra-op threads set to 1 for a while (per-sample ops on small images run several
    times faster without a thread pool to wake; DataLoader workers already run this way)."""
    threads = torch.get_num_threads()
    if threads > 1:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        if threads > 1:
            torch.set_num_threads(threads)


class PipelineHolder:
    """The pipeline in force, shared by the training data and the panel (thread-safe).

    Args:
        spec: the starting pipeline.
        seed: mixed into every sample's seed.
    """

    def __init__(self, spec: PipelineSpec, seed: int = 0) -> None:
        self._lock = threading.Lock()
        self._spec = spec
        self.requested = spec  # the latest spec accepted by any panel (in force at the next boundary)
        self._pipeline: v2.Compose | None = spec.build() if spec.enabled else None
        self.seed = int(seed)
        self.version = 0
        self._epoch = 0
        self._session_ref: Any = None  # weakref to the session whose epoch counts

    @property
    def spec(self) -> PipelineSpec:
        return self._spec

    @property
    def pipeline(self) -> v2.Compose | None:
        return self._pipeline

    def set_spec(self, spec: PipelineSpec) -> PipelineSpec:
        """Put ``spec`` in force; returns the one it replaces."""
        pipeline = spec.build() if spec.enabled else None
        with self._lock:
            old, self._spec, self._pipeline = self._spec, spec, pipeline
            self.version += 1
        return old

    def follow(self, session: Any) -> None:
        """Read the epoch from ``session`` from now on."""
        self._session_ref = weakref.ref(session)

    @property
    def epoch(self) -> int:
        session = self._session_ref() if self._session_ref is not None else None
        return int(session.epoch) if session is not None else self._epoch

    @epoch.setter
    def epoch(self, value: int) -> None:
        self._epoch = int(value)

    def apply(self, image: torch.Tensor, index: int) -> torch.Tensor:
        """``image`` through the pipeline, seeded for (epoch, index); the global RNG is untouched."""
        with self._lock:
            pipeline = self._pipeline
        if pipeline is None:
            return image
        with torch.random.fork_rng(devices=[]):
            torch.default_generator.manual_seed(sample_seed(self.seed, self.epoch, index))  # CPU only: ~1 us
            return pipeline(image)

    def __getstate__(self) -> dict[str, Any]:  # for DataLoader worker processes
        state = self.__dict__.copy()
        state["_epoch"] = self.epoch
        state["_lock"] = None
        state["_session_ref"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()


class AugmentedDataset(Dataset):
    """``dataset`` with the holder's pipeline applied to each sample's input.

    Samples may be (input, target, ...) tuples/lists or dicts with ``input_key``.
    """

    def __init__(self, dataset: Dataset, holder: PipelineHolder, input_key: str = "input") -> None:
        self.dataset = dataset
        self.holder = holder
        self.input_key = input_key

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitems__(self, indices: Sequence[int]) -> list[Any]:
        """One batch of samples (the DataLoader calls this): the pipeline runs on one thread."""
        if self.holder.pipeline is None:
            return [self[i] for i in indices]
        with one_thread():
            return [self[i] for i in indices]

    def __getitem__(self, index: int) -> Any:
        item = self.dataset[index]
        if isinstance(item, Mapping):
            out = dict(item)
            out[self.input_key] = self.holder.apply(item[self.input_key], index)
            return out
        if isinstance(item, Sequence) and not isinstance(item, (str, bytes)):
            return type(item)([self.holder.apply(item[0], index), *item[1:]]) \
                if isinstance(item, list) else (self.holder.apply(item[0], index), *item[1:])
        return self.holder.apply(item, index)


def first_input(dataset: Dataset, input_key: str = "input") -> Any:
    """The input of ``dataset[0]`` (tuple position 0 or dict ``input_key``)."""
    item = dataset[0]
    if isinstance(item, Mapping):
        return item.get(input_key)
    if isinstance(item, Sequence) and not isinstance(item, (str, bytes)):
        return item[0]
    return item


def check_loader(loader: Any) -> DataLoader:
    """``loader`` if nbviz can re-wrap it, else AugmentationError saying why."""
    if not isinstance(loader, DataLoader):
        raise AugmentationError(
            f"augmentation needs session.train_loader to be a torch DataLoader over a map-style "
            f"dataset; it is a {type(loader).__name__}. Apply your own transform in the dataset instead")
    if isinstance(loader.dataset, IterableDataset):
        raise AugmentationError(
            "augmentation needs a map-style dataset (indexable); the training loader reads an "
            "IterableDataset, whose samples cannot be seeded per index")
    return loader


def rewrap(loader: DataLoader, dataset: Dataset) -> DataLoader:
    """A DataLoader like ``loader`` (same sampler, batching, workers, collate) over ``dataset``."""
    kwargs: dict[str, Any] = dict(
        num_workers=loader.num_workers, collate_fn=loader.collate_fn, pin_memory=loader.pin_memory,
        timeout=loader.timeout, worker_init_fn=loader.worker_init_fn,
        multiprocessing_context=loader.multiprocessing_context, generator=loader.generator,
        persistent_workers=loader.persistent_workers)
    if loader.num_workers > 0:
        kwargs["prefetch_factor"] = loader.prefetch_factor
    if loader.batch_size is not None and type(loader.batch_sampler) is BatchSampler:
        kwargs.update(batch_size=loader.batch_size, sampler=loader.sampler, drop_last=loader.drop_last)
    else:
        kwargs.update(batch_sampler=loader.batch_sampler)
    return DataLoader(dataset, **kwargs)


def attach(session: Any, holder: PipelineHolder) -> Future:
    """Route ``session``'s training data through ``holder`` (from the next epoch if mid-epoch).

    Returns the Future of the swap (done at once when the session is not training).

    Raises:
        AugmentationError: the loader or dataset cannot be augmented (the reason is named).
    """
    loader = check_loader(session.train_loader)
    if isinstance(loader.dataset, AugmentedDataset):
        if loader.dataset.holder is holder:
            done: Future = Future()
            done.set_result(loader)
            return done
        dataset = loader.dataset.dataset
    else:
        dataset = loader.dataset
    key = getattr(getattr(session, "batch_format", None), "input_key", "input")
    image_info(first_input(dataset, key))
    holder.follow(session)
    new_loader = rewrap(loader, AugmentedDataset(dataset, holder, key))

    def swap() -> DataLoader:
        session.train_loader = new_loader
        return new_loader

    return session.run_at_batch_boundary(swap)


def change(session: Any, holder: PipelineHolder, spec: PipelineSpec) -> Future:
    """Put ``spec`` in force at the next batch boundary and record it in the session history."""
    def apply() -> str:
        old = holder.set_spec(spec)
        text = spec.diff(old)
        if text != "no change":  # e.g. a parameter of an op that is off
            session.history.add_event(session.step_count, "augmentation", text, session.wall_time(),
                                      ops=spec.active_ops())
        loader = session.train_loader
        if isinstance(loader, DataLoader) and loader.persistent_workers and loader.num_workers > 0:
            session.train_loader = rewrap(loader, loader.dataset)  # fresh workers see the change
        return text
    return session.run_at_batch_boundary(apply)


def when_effective(loader: Any) -> str:
    """Words for when a change reaches the training batches with this loader."""
    workers = getattr(loader, "num_workers", 0)
    if workers:
        return (f"changes apply from the next epoch (the loader uses {workers} worker "
                "process(es), which hold their own copy of the pipeline)")
    return "changes apply from the next batch (the loader has no worker processes)"


__all__ = ["AugmentedDataset", "PipelineHolder", "attach", "change", "one_thread", "sample_seed",
           "when_effective"]
