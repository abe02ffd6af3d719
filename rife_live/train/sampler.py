"""Which samples each step trains on, as a pure function of the seed and the step.

The data is an endless sequence of epochs, each a permutation of the training triplets drawn from
``(seed, epoch)``; step s takes the global batch at positions [s * B, (s + 1) * B) of that sequence,
and each of the ``world`` processes the same-sized slice of it that its rank names. A sample is a
key (epoch, triplet); its augmentation is drawn from ``(seed, epoch, triplet)``. So a run's data
depends only on the seed, the global batch and the step: resuming at step s needs nothing but s,
and one process or many see the same samples, augmented the same way.

``TripletDataset`` (a ``torch.utils.data.Dataset`` keyed by sample keys) and ``RankBatches`` (a
batch sampler for this rank from a given step) feed a ``torch.utils.data.DataLoader``.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from rife_live.train.augment import augment
from rife_live.train.triplets import Triplets

ORDER_STREAM = 2  # seed stream of the epoch permutations (triplets.SPLIT_STREAM is 1)
AUGMENT_STREAM = 3  # seed stream of the per-sample augmentation

SampleKey = tuple[int, int]  # (epoch, triplet index)


class BatchPlan:
    """The global batch of every step (see the module docstring)."""

    def __init__(self, items: int, batch: int, seed: int) -> None:
        if items < 1 or batch < 1:
            raise ValueError(f"need at least one item and a batch of one, got {items} and {batch}")
        self.items = items
        self.batch = batch
        self.seed = seed
        self._order: tuple[int, np.ndarray] | None = None  # the last epoch's permutation, reused

    def _permutation(self, epoch: int) -> np.ndarray:
        if self._order is None or self._order[0] != epoch:
            self._order = (epoch, np.random.default_rng([self.seed, ORDER_STREAM, epoch]).permutation(self.items))
        return self._order[1]

    def keys(self, step: int) -> list[SampleKey]:
        """The global batch of ``step``."""
        out: list[SampleKey] = []
        for position in range(step * self.batch, (step + 1) * self.batch):
            epoch, offset = divmod(position, self.items)
            out.append((epoch, int(self._permutation(epoch)[offset])))
        return out

    def epoch(self, step: int) -> float:
        """Epochs completed after ``step`` steps."""
        return step * self.batch / self.items


class RankBatches(Sampler[list[SampleKey]]):
    """This rank's slice of the global batch, for steps ``start`` .. ``stop`` - 1."""

    def __init__(self, plan: BatchPlan, rank: int, world: int, start: int, stop: int) -> None:
        if plan.batch % world:
            raise ValueError(f"a global batch of {plan.batch} does not split over {world} processes")
        self.plan = plan
        self.rank = rank
        self.per_rank = plan.batch // world
        self.start = start
        self.stop = stop

    def __iter__(self) -> Iterator[list[SampleKey]]:
        for step in range(self.start, self.stop):
            keys = self.plan.keys(step)
            yield keys[self.rank * self.per_rank:(self.rank + 1) * self.per_rank]

    def __len__(self) -> int:
        return max(0, self.stop - self.start)


class TripletDataset(Dataset):
    """Sample key -> (3, crop, crop, 3) uint8 tensor: input 0, truth, input 1, augmented."""

    def __init__(self, triplets: Triplets, crop: int, augmented: bool, seed: int) -> None:
        self.triplets = triplets
        self.crop = crop
        self.augmented = augmented
        self.seed = seed

    def __len__(self) -> int:
        return len(self.triplets)

    def __getitem__(self, key: SampleKey) -> torch.Tensor:
        epoch, index = key
        rng = np.random.default_rng([self.seed, AUGMENT_STREAM, epoch, index])
        return torch.from_numpy(augment(self.triplets.frames(index), rng, self.crop, self.augmented))
