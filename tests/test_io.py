import os

import numpy as np
import pytest

from xaisim.io import ArrayFile, atomic_path, save_arrays, write_json


def test_atomic_path_leaves_nothing_when_the_block_fails(tmp_path):
    target = tmp_path / "out.csv"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed")
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []


def test_atomic_path_replaces_an_old_file_only_on_success(tmp_path):
    target = tmp_path / "sub" / "out.txt"
    with atomic_path(target) as tmp:
        tmp.write_text("new")
    assert target.read_text() == "new"
    assert [p.name for p in target.parent.iterdir()] == ["out.txt"]


def test_arrays_round_trip_whole_and_in_slices(tmp_path):
    maps = np.random.default_rng(0).random((7, 5, 5), dtype=np.float32)
    path = tmp_path / "m.safetensors"
    save_arrays(path, {"maps": maps, "targets": np.arange(7)}, {"image_ids": [f"i{i}" for i in range(7)], "params": {"n": 3}})
    f = ArrayFile(path)
    assert f.meta == {"image_ids": [f"i{i}" for i in range(7)], "params": {"n": 3}}
    assert f.shape("maps") == [7, 5, 5]
    np.testing.assert_array_equal(f.read("maps"), maps)
    np.testing.assert_array_equal(f.read("maps", 2, 5), maps[2:5])
    np.testing.assert_array_equal(f.read("targets"), np.arange(7))


def test_the_same_content_gives_the_same_bytes(tmp_path):
    meta = {f"key{i}": i for i in range(20)}
    arrays = {"b": np.ones(3), "a": np.zeros((2, 2), np.float32)}
    save_arrays(tmp_path / "1", arrays, meta)
    save_arrays(tmp_path / "2", dict(reversed(arrays.items())), dict(reversed(meta.items())))
    assert (tmp_path / "1").read_bytes() == (tmp_path / "2").read_bytes()


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_atomic_writes_honour_the_umask(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        write_json({"a": 1}, tmp_path / "x.json")
    finally:
        os.umask(old)
    assert (tmp_path / "x.json").stat().st_mode & 0o777 == mode
