import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from xaisim.data import loader
from xaisim.index import digits_index, imagefolder_index, read_index, write_index
from xaisim.subset import explain_subset


def test_digits_index_renders_all_images_with_a_stratified_seeded_split(tmp_path):
    index = digits_index(tmp_path, image_size=24, val_fraction=0.2, seed=3)
    assert len(index) == 1797 and index["image_id"].is_unique
    assert set(index["label"]) == set(range(10))
    val = index[index["split"] == "val"]
    assert abs(len(val) / len(index) - 0.2) < 0.01
    per_class = val["label"].value_counts() / index["label"].value_counts()
    assert per_class.between(0.15, 0.25).all()
    image = Image.open(tmp_path / index["path"].iloc[0])
    assert image.size == (24, 24) and image.mode == "RGB"
    again = digits_index(tmp_path / "again", image_size=24, val_fraction=0.2, seed=3)
    pd.testing.assert_frame_equal(index, again)
    other = digits_index(tmp_path / "other", image_size=24, val_fraction=0.2, seed=4)
    assert not other["split"].equals(index["split"])


def test_imagefolder_index_and_relative_paths(imagefolder, tmp_path):
    out = tmp_path / "results" / "index.csv"
    index = imagefolder_index(imagefolder, out.parent)
    assert sorted(index["class_name"].unique()) == ["cat", "dog"]
    assert (index["split"] == "train").sum() == 8 and (index["split"] == "val").sum() == 4
    assert dict(zip(index["class_name"], index["label"])) == {"cat": 0, "dog": 1}
    write_index(index, out)
    back = read_index(out)
    assert all(Image.open(p).size == (16, 16) for p in back["path"])


def test_imagefolder_without_val_is_refused(imagefolder):
    import shutil

    shutil.rmtree(imagefolder / "val")
    with pytest.raises(FileNotFoundError, match="no 'val/' folder"):
        imagefolder_index(imagefolder, imagefolder)


def test_explain_subset_is_stratified_deterministic_and_checked(tmp_path):
    index = digits_index(tmp_path, image_size=8, val_fraction=0.2, seed=0)
    subset = explain_subset(index, 40, seed=1)
    assert len(subset) == 40 and set(subset["split"]) == {"val"}
    assert subset["label"].value_counts().max() - subset["label"].value_counts().min() <= 1
    assert subset.equals(explain_subset(index, 40, seed=1))
    assert not subset["image_id"].equals(explain_subset(index, 40, seed=2)["image_id"])
    for n in (1, 2, 5):  # too few to stratify: one image each of n seeded classes, warned
        few = explain_subset(index, n, seed=3)
        assert len(few) == n and few["label"].nunique() == n and few.equals(explain_subset(index, n, seed=3))
    assert set(explain_subset(index, 5, seed=4)["label"]) != set(explain_subset(index, 5, seed=3)["label"])
    n_val = int((index["split"] == "val").sum())
    assert len(explain_subset(index, n_val, seed=0)) == n_val
    with pytest.raises(ValueError, match=rf"explain_images={n_val + 1} exceeds the {n_val} validation images"):
        explain_subset(index, n_val + 1, seed=0)


def test_loader_shuffle_depends_only_on_seed(imagefolder):
    from torchvision.transforms import functional as F

    index = imagefolder_index(imagefolder, imagefolder)
    index["path"] = [str(imagefolder / p) for p in index["path"]]

    def order(seed):
        return np.concatenate([y.numpy() for _, y in loader(index, F.to_tensor, 3, shuffle=True, seed=seed)])

    assert (order(5) == order(5)).all()
    assert any((order(5) != order(s)).any() for s in range(6, 12))


def test_augmented_batches_do_not_depend_on_the_number_of_loader_processes(imagefolder):
    from torchvision import transforms

    index = imagefolder_index(imagefolder, imagefolder)
    index["path"] = [str(imagefolder / p) for p in index["path"]]
    augment = transforms.Compose([transforms.RandomResizedCrop(8), transforms.RandomHorizontalFlip(),
                                  transforms.ToTensor()])

    def batches(workers, epoch=0):
        batches = loader(index, augment, 3, shuffle=True, seed=1, num_workers=workers)
        batches.dataset.epoch = epoch
        return torch.cat([x for x, _ in batches])

    assert torch.equal(batches(0), batches(2))
    assert not torch.equal(batches(0), batches(0, epoch=1))


def test_a_corrupt_image_is_named_before_training(imagefolder):
    bad = imagefolder / "val" / "dog" / "broken.jpg"
    bad.write_bytes(b"not a jpeg")
    with pytest.raises(ValueError, match=r"broken.jpg: not a readable image"):
        imagefolder_index(imagefolder, imagefolder)


def test_an_image_beyond_the_decompression_bomb_limit_is_refused_naming_it(imagefolder, monkeypatch):
    from PIL import Image

    Image.new("L", (64, 64)).save(imagefolder / "train" / "cat" / "huge.png")  # 4096 pixels
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # Pillow refuses beyond twice the limit
    with pytest.raises(ValueError, match=r"huge.png: refused, beyond Pillow's decompression-bomb limit .*downscale"):
        imagefolder_index(imagefolder, imagefolder)


def test_the_csv_only_jobs_import_no_torch(tmp_path):
    """The index and the explained subset (prepare_data, explain_subset) are CSV work: no torch."""
    import subprocess
    import sys

    code = (
        "import sys; from xaisim.index import digits_index, write_index; from xaisim.subset import explain_subset; "
        f"write_index(explain_subset(digits_index({str(tmp_path)!r}, 8, 0.5, 0), 10, 0), {str(tmp_path / 'i.csv')!r}); "
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_nested_folders_belong_to_their_class_and_hidden_ones_are_skipped(imagefolder, tmp_path, caplog):
    nested = imagefolder / "train" / "cat" / "indoor"
    nested.mkdir()
    Image.fromarray(np.full((16, 16, 3), 200, np.uint8)).save(nested / "sofa.png")
    for hidden in (imagefolder / "train" / ".ipynb_checkpoints", imagefolder / "train" / "dog" / ".thumbs"):
        hidden.mkdir()
        Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(hidden / "x.png")
    with caplog.at_level("WARNING"):
        index = imagefolder_index(imagefolder, tmp_path)
    assert sorted(index["class_name"].unique()) == ["cat", "dog"]  # no class from the hidden folder
    assert "train/cat/indoor/sofa" in set(index["image_id"])
    assert not index["path"].str.contains("ipynb|thumbs").any()
    assert "2 hidden files or folders skipped" in caplog.text


def test_an_empty_class_folder_and_a_link_leaving_the_folder_are_refused(imagefolder, tmp_path):
    (imagefolder / "train" / "bird").mkdir()
    with pytest.raises(ValueError, match=r"train/bird: a class folder without images"):
        imagefolder_index(imagefolder, tmp_path)
    (imagefolder / "train" / "bird").rmdir()
    outside = tmp_path / "elsewhere.png"
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(outside)
    (imagefolder / "val" / "cat" / "link.png").symlink_to(outside)
    with pytest.raises(ValueError, match=r"link.png: links to .*outside data.path"):
        imagefolder_index(imagefolder, tmp_path)


def test_16_bit_palette_and_alpha_images_convert_exactly(tmp_path):
    from xaisim.index import open_rgb

    grey16 = (np.arange(16 * 16, dtype=np.uint16).reshape(16, 16) * 257)  # 8-bit values 0..255, scaled by 257
    Image.fromarray(grey16).save(tmp_path / "g16.png")
    assert Image.open(tmp_path / "g16.png").mode == "I;16"
    rgb = np.asarray(open_rgb(tmp_path / "g16.png"))
    assert np.array_equal(rgb[..., 0], (grey16 // 257).astype(np.uint8)) and (rgb[..., 0] == rgb[..., 2]).all()
    colours = np.random.default_rng(0).integers(0, 255, (16, 16, 3), dtype=np.uint8)
    Image.fromarray(colours).convert("P", palette=Image.Palette.ADAPTIVE).save(tmp_path / "p.png")
    assert np.array_equal(np.asarray(open_rgb(tmp_path / "p.png")), np.asarray(Image.open(tmp_path / "p.png").convert("RGB")))
    rgba = np.dstack([colours, np.full((16, 16), 7, np.uint8)])
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    assert np.array_equal(np.asarray(open_rgb(tmp_path / "a.png")), colours)


def test_a_truncated_jpeg_is_named_when_the_index_is_built(imagefolder, tmp_path):
    Image.fromarray(np.random.default_rng(1).integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(tmp_path / "x.jpg")
    data = (tmp_path / "x.jpg").read_bytes()
    (imagefolder / "train" / "dog" / "cut.jpg").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"cut.jpg: not a readable image"):
        imagefolder_index(imagefolder, tmp_path)


def test_the_folder_digest_follows_content_not_modification_times(imagefolder, tmp_path):
    import os
    import shutil

    from xaisim.paths import IMAGE_EXTENSIONS
    from xaisim.workflow import folder_digest

    cache = tmp_path / "cache" / "digests.json"
    first = folder_digest(imagefolder, IMAGE_EXTENSIONS, cache)
    image = next((imagefolder / "train" / "cat").iterdir())
    os.utime(image, ns=(1, 1))  # touched, same bytes
    (imagefolder / "train" / "cat" / "notes.txt").write_text("not an image")
    (imagefolder / "train" / ".ipynb_checkpoints").mkdir()
    (imagefolder / "train" / ".ipynb_checkpoints" / "x.png").write_bytes(image.read_bytes())
    assert folder_digest(imagefolder, IMAGE_EXTENSIONS, cache) == first
    copy = tmp_path / "copy"
    shutil.copytree(imagefolder, copy, copy_function=shutil.copyfile)  # cp -r: new times
    assert folder_digest(copy, IMAGE_EXTENSIONS, cache) == first
    pixels = np.asarray(Image.open(image)).copy()
    pixels[0, 0] ^= 1
    Image.fromarray(pixels).save(image)
    assert folder_digest(imagefolder, IMAGE_EXTENSIONS, cache) != first
