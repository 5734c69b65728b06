"""Datasets as an index: one CSV row per image (image_id, path, label, class_name, split).

Paths in the index are relative to the index file's folder (or absolute), so a results folder can
be moved as a whole. Sources: scikit-learn's digits rendered to RGB files, an image folder with
``train/`` and ``val/`` class folders (the Imagenette layout), or a downloaded archive of one.
Importing this module loads no torch: the CSV-only jobs (the index, the explained subset) use it.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image
from sklearn.model_selection import train_test_split

from xaisim.io import atomic_path, write_csv
from xaisim.paths import IMAGE_EXTENSIONS

log = logging.getLogger(__name__)
INDEX_COLUMNS = ["image_id", "path", "label", "class_name", "split"]


def digits_index(out_dir: str | Path, image_size: int, val_fraction: float, seed: int) -> pd.DataFrame:
    """Render scikit-learn's 1,797 8x8 digits to RGB PNGs of ``image_size`` and split them, stratified."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    out_dir = Path(out_dir)
    ids = [f"digit{i:04d}" for i in range(len(digits.target))]
    train_ids, _ = train_test_split(
        ids, test_size=val_fraction, stratify=digits.target, random_state=seed
    )
    train_set = set(train_ids)
    rows = []
    for image_id, pixels, label in zip(ids, digits.images, digits.target):
        split = "train" if image_id in train_set else "val"
        rel = Path("digits") / split / str(label) / f"{image_id}.png"
        gray = Image.fromarray(np.uint8(pixels * (255 / 16)))
        image = gray.resize((image_size, image_size), Image.Resampling.BILINEAR).convert("RGB")
        with atomic_path(out_dir / rel) as tmp:
            image.save(tmp, format="PNG")
        rows.append((image_id, rel.as_posix(), int(label), str(label), split))
    return pd.DataFrame(rows, columns=INDEX_COLUMNS)


def _hidden(path: Path) -> bool:
    return path.name.startswith(".")


def _images(class_dir: Path, root: Path) -> tuple[list[Path], int]:
    """Image files under ``class_dir`` (nested folders too, sorted), and the hidden entries skipped.

    A file or folder that links outside ``root`` is refused."""
    found, hidden = [], 0
    for folder, dirs, files in os.walk(class_dir, followlinks=True):
        hidden += sum(_hidden(Path(d)) for d in dirs) + sum(_hidden(Path(f)) for f in files)
        dirs[:] = sorted(d for d in dirs if not _hidden(Path(d)))
        for name in sorted(files):
            file = Path(folder) / name
            if _hidden(file) or file.suffix.lower() not in IMAGE_EXTENSIONS:
                continue
            if not file.resolve().is_relative_to(root.resolve()):
                raise ValueError(f"{file}: links to {file.resolve()}, outside data.path {root}; copy the file in instead")
            found.append(file)
    return found, hidden


def imagefolder_index(root: str | Path, index_dir: str | Path) -> pd.DataFrame:
    """Index ``root/{train,val}/<class>/...<image>``; classes are the sorted folder names of train/.

    Images in nested folders of a class belong to it (their id keeps the sub-path); hidden files and
    folders (``.ipynb_checkpoints``) are skipped and counted in a warning; a class folder without an
    image, a val class unknown to train/, or a link leaving ``root`` is refused, naming the folder."""
    root = Path(root)
    for split in ("train", "val"):
        if not (root / split).is_dir():
            raise FileNotFoundError(
                f"{root}: no '{split}/' folder; data.path must hold train/ and val/ class folders"
            )
    classes = sorted(d.name for d in (root / "train").iterdir() if d.is_dir() and not _hidden(d))
    if len(classes) < 2:
        raise ValueError(f"{root / 'train'}: found {len(classes)} class folders, need at least 2")
    label_of = {c: i for i, c in enumerate(classes)}
    rows, skipped, modes = [], 0, {}
    for split in ("train", "val"):
        for class_dir in sorted((root / split).iterdir()):
            if _hidden(class_dir):
                skipped += 1
                continue
            if not class_dir.is_dir():
                continue
            if class_dir.name not in label_of:
                raise ValueError(f"{class_dir}: class folder not present in {root / 'train'}")
            files, hidden = _images(class_dir, root)
            skipped += hidden
            if not files and split == "train":
                raise ValueError(f"{class_dir}: a class folder without images; add images or remove the folder")
            for file in files:
                mode = check_image(file)
                modes[mode] = modes.get(mode, 0) + 1
                image_id = f"{split}/{class_dir.name}/{file.relative_to(class_dir).with_suffix('').as_posix()}"
                path = os.path.relpath(file.resolve(), Path(index_dir).resolve())
                rows.append((image_id, path, label_of[class_dir.name], class_dir.name, split))
    if skipped:
        log.warning("%s: %d hidden files or folders skipped", root, skipped)
    converted = {m: n for m, n in modes.items() if m != "RGB"}
    if converted:
        log.info("%s: images converted to 8-bit RGB by mode: %s", root, converted)
    index = pd.DataFrame(rows, columns=INDEX_COLUMNS)
    empty = {"train", "val"} - set(index["split"])
    if empty:
        raise ValueError(f"{root}: no images found in {sorted(empty)}")
    return index


def open_rgb(path: str | Path) -> Image.Image:
    """An image file as 8-bit RGB. 16-bit grey is scaled by 255/65535 (not clipped to white),
    palette and grey are expanded, alpha is dropped, CMYK is converted by Pillow."""
    with Image.open(path) as image:
        if image.mode.startswith("I;16") or image.mode == "I":
            values = np.asarray(image, dtype=np.float64)
            if values.min() < 0 or values.max() > 65535:
                raise ValueError(f"{path}: a {image.mode} image with values outside 0-65535; save it as 8 or 16 bit")
            return Image.fromarray(np.uint8(np.round(values * (255 / 65535))), "L").convert("RGB")
        if image.mode == "F":
            raise ValueError(f"{path}: a floating-point image; save it as 8 or 16 bit")
        return image.convert("RGB")


def check_image(path: Path) -> str:
    """Decode the file fully and return its mode; fail naming the file if it is not a readable image
    (truncated, not an image, beyond Pillow's decompression-bomb limit) before any training starts."""
    try:
        with Image.open(path) as image:
            mode = image.mode
        open_rgb(path)
    except Image.DecompressionBombError as err:
        raise ValueError(f"{path}: refused, beyond Pillow's decompression-bomb limit ({err}); downscale or remove it") from None
    except Exception as err:
        raise ValueError(f"{path}: not a readable image ({err}); delete or replace it") from None
    return mode


def write_index(index: pd.DataFrame, path: str | Path) -> None:
    if index["image_id"].duplicated().any():
        dup = index.loc[index["image_id"].duplicated(), "image_id"].iloc[0]
        raise ValueError(f"{path}: duplicate image_id {dup!r}")
    write_csv(index[INDEX_COLUMNS], path, index=False)


def read_index(path: str | Path) -> pd.DataFrame:
    """Read an index and make its paths usable from the current directory."""
    index = pd.read_csv(path, dtype={"image_id": str, "class_name": str})
    missing = set(INDEX_COLUMNS) - set(index.columns)
    if missing:
        raise ValueError(f"{path}: missing columns {sorted(missing)}; rebuild it with the data rule")
    base = Path(path).parent
    index["path"] = [str(base / p) for p in index["path"]]
    return index


def num_classes(index: pd.DataFrame) -> int:
    """Classes are labelled 0..K-1; K is what every model's head is built for."""
    return int(index["label"].max()) + 1
