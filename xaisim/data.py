"""Images of an index as torch batches: a dataset whose augmentation is seeded per item, a loader
whose order depends only on the seed, and the explained rows of a model with their target classes."""

from __future__ import annotations

import random
from contextlib import contextmanager
from typing import Callable, Iterator

import numpy as np
import pandas as pd
import torch
from PIL import Image
from torch.utils.data import Dataset

from xaisim.index import open_rgb, read_index


class ImageDataset(Dataset):
    """Images of an index (or a slice of one), transformed, with their integer labels.

    With a ``seed``, random transforms draw from generators seeded by (seed, epoch, item), so
    augmentation does not depend on the number of loader processes (a performance knob).
    """

    def __init__(
        self, index: pd.DataFrame, transform: Callable[[Image.Image], torch.Tensor], seed: int | None = None
    ) -> None:
        self.paths = list(index["path"])
        self.labels = torch.tensor(index["label"].to_numpy(), dtype=torch.long)
        self.transform = transform
        self.seed = seed
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        image = open_rgb(self.paths[i])
        if self.seed is None:
            return self.transform(image), self.labels[i]
        with _seeded(hash((self.seed, self.epoch, i)) & 0xFFFFFFFF):
            return self.transform(image), self.labels[i]


def explained_rows(
    index_path: str, subset_path: str, predictions_path: str, target: str
) -> tuple[pd.DataFrame, pd.DataFrame, torch.Tensor]:
    """The index, its rows of the explained subset (in the subset's order) and each of those images'
    target class (column ``target`` of the model's predictions: ``label`` or ``pred``)."""
    index = read_index(index_path)
    subset = pd.read_csv(subset_path, dtype={"image_id": str})
    rows = index.set_index("image_id").loc[subset["image_id"]].reset_index()
    preds = pd.read_csv(predictions_path, dtype={"image_id": str}).set_index("image_id")
    missing = set(rows["image_id"]) - set(preds.index)
    if missing:
        raise ValueError(f"{predictions_path}: no prediction for {len(missing)} explained images; rerun predict")
    return index, rows, torch.as_tensor(preds.loc[rows["image_id"], target].to_numpy(copy=True), dtype=torch.long)


@contextmanager
def _seeded(seed: int) -> Iterator[None]:
    """Seed torch's, Python's and NumPy's global generators for a block, then restore them."""
    states = torch.get_rng_state(), random.getstate(), np.random.get_state()
    torch.manual_seed(seed)
    random.seed(seed)
    np.random.seed(seed)
    try:
        yield
    finally:
        torch.set_rng_state(states[0])
        random.setstate(states[1])
        np.random.set_state(states[2])


def loader(
    index: pd.DataFrame,
    transform: Callable[[Image.Image], torch.Tensor],
    batch_size: int,
    *,
    shuffle: bool = False,
    seed: int = 0,
    num_workers: int = 0,
) -> torch.utils.data.DataLoader:
    """A DataLoader over ``index`` whose shuffling and augmentation depend only on ``seed`` (and the
    dataset's ``epoch``, which the training loop sets), not on ``num_workers``."""
    generator = torch.Generator().manual_seed(seed)
    return torch.utils.data.DataLoader(
        ImageDataset(index, transform, seed if shuffle else None),
        batch_size=batch_size,
        shuffle=shuffle,
        num_workers=num_workers,
        pin_memory=torch.cuda.is_available(),
        generator=generator,
        worker_init_fn=_seed_worker,
        drop_last=shuffle and len(index) > batch_size,
    )


def _seed_worker(worker_id: int) -> None:
    seed = torch.initial_seed() % 2**32
    np.random.seed(seed)
    random.seed(seed)
