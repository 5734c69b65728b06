"""download() and extract() against local data: file:// URLs and a loopback HTTP server."""

from __future__ import annotations

import hashlib
import io
import logging
import tarfile
import threading
import zipfile
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator

import pytest

from xaisim.download import DownloadError, download, extract, file_digest

FILES = {
    "imagenette/train/n01440764/a.png": b"fish " * 300,
    "imagenette/train/n02102040/b.png": b"dog " * 500,
    "imagenette/val/n01440764/c.png": bytes(range(256)) * 8,
}


def make_tar(path: Path, files: dict[str, bytes], mode: str = "w:gz") -> Path:
    with tarfile.open(path, mode) as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def make_zip(path: Path, files: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return path


def leftovers(directory: Path) -> list[str]:
    """Names of .part files and temporary extraction directories under `directory`."""
    return sorted(p.name for p in directory.rglob("*") if p.name.endswith((".part", ".partial")))


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    (tmp_path / "src").mkdir()
    return make_tar(tmp_path / "src" / "imagenette.tgz", FILES)


@pytest.fixture
def payload(archive: Path) -> bytes:
    return archive.read_bytes()


@contextmanager
def serve(payload: bytes, *, honour_range: bool, truncate: bool = False) -> Iterator[tuple[str, list]]:
    """Serve `payload` at /data.tgz on loopback; yield (url, log of (Range header, status, bytes sent))."""
    seen: list[tuple[str | None, int, int]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            requested = self.headers.get("Range")
            if self.path != "/data.tgz":
                seen.append((requested, 404, 0))
                self.send_error(404)
                return
            start, status = 0, 200
            if honour_range and requested:
                start = int(requested.removeprefix("bytes=").removesuffix("-"))
                if start >= len(payload):
                    seen.append((requested, 416, 0))
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{len(payload)}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                status = 206
            body = payload[start:]
            self.send_response(status)
            if status == 206:
                self.send_header("Content-Range", f"bytes {start}-{len(payload) - 1}/{len(payload)}")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            sent = body[: len(body) // 2] if truncate else body
            self.wfile.write(sent)
            seen.append((requested, status, len(sent)))

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/data.tgz", seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


# --- download over file:// -------------------------------------------------------------------


def test_file_url_with_md5(tmp_path: Path, archive: Path, payload: bytes) -> None:
    dest = tmp_path / "cache" / "imagenette.tgz"
    out = download(archive.as_uri(), dest, md5=hashlib.md5(payload).hexdigest())
    assert out == dest
    assert dest.read_bytes() == payload
    assert leftovers(tmp_path) == []


def test_file_url_with_sha256_and_both(tmp_path: Path, archive: Path, payload: bytes) -> None:
    sha = hashlib.sha256(payload).hexdigest()
    assert download(archive.as_uri(), tmp_path / "a.tgz", sha256=sha).read_bytes() == payload
    md5 = hashlib.md5(payload).hexdigest().upper()  # case-insensitive
    assert download(archive.as_uri(), tmp_path / "b.tgz", md5=md5, sha256=sha).read_bytes() == payload
    assert file_digest(tmp_path / "b.tgz", "sha256") == sha


def test_wrong_md5_raises_and_leaves_nothing(tmp_path: Path, archive: Path, payload: bytes) -> None:
    url, dest, wrong = archive.as_uri(), tmp_path / "cache" / "imagenette.tgz", "0" * 32
    with pytest.raises(ValueError) as err:
        download(url, dest, md5=wrong)
    message = str(err.value)
    assert "\n" not in message
    assert url in message and "md5" in message
    assert wrong in message and hashlib.md5(payload).hexdigest() in message
    assert not dest.exists()
    assert leftovers(tmp_path) == []


def test_wrong_sha256_with_right_md5_still_raises(tmp_path: Path, archive: Path, payload: bytes) -> None:
    with pytest.raises(ValueError, match="sha256"):
        download(archive.as_uri(), tmp_path / "x.tgz", md5=hashlib.md5(payload).hexdigest(), sha256="f" * 64)
    assert not (tmp_path / "x.tgz").exists()


def test_existing_verified_dest_is_not_downloaded_again(tmp_path: Path, archive: Path, payload: bytes) -> None:
    md5 = hashlib.md5(payload).hexdigest()
    dest = download(archive.as_uri(), tmp_path / "imagenette.tgz", md5=md5)
    archive.unlink()  # the source is gone: a second download attempt would fail
    assert download(archive.as_uri(), dest, md5=md5) == dest
    assert dest.read_bytes() == payload


def test_existing_corrupt_dest_is_downloaded_again(tmp_path: Path, archive: Path, payload: bytes) -> None:
    dest = tmp_path / "imagenette.tgz"
    dest.write_bytes(b"truncated")
    download(archive.as_uri(), dest, md5=hashlib.md5(payload).hexdigest())
    assert dest.read_bytes() == payload


def test_stale_part_with_file_url_restarts_from_zero(tmp_path: Path, archive: Path, payload: bytes) -> None:
    dest = tmp_path / "imagenette.tgz"
    (tmp_path / "imagenette.tgz.part").write_bytes(b"garbage" * 10)
    download(archive.as_uri(), dest, md5=hashlib.md5(payload).hexdigest())
    assert dest.read_bytes() == payload


def test_no_checksum_works_but_warns(tmp_path: Path, archive: Path, payload: bytes, caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="xaisim.download"):
        dest = download(archive.as_uri(), tmp_path / "imagenette.tgz")
    assert dest.read_bytes() == payload
    assert "unverified" in caplog.text


def test_missing_file_url_names_the_url(tmp_path: Path) -> None:
    url = (tmp_path / "nope.tgz").as_uri()
    with pytest.raises(DownloadError, match="nope.tgz"):
        download(url, tmp_path / "nope.tgz", md5="0" * 32)


# --- download over HTTP ----------------------------------------------------------------------


def test_http_resume_appends_with_range(tmp_path: Path, payload: bytes) -> None:
    half = len(payload) // 2
    dest = tmp_path / "imagenette.tgz"
    (tmp_path / "imagenette.tgz.part").write_bytes(payload[:half])
    with serve(payload, honour_range=True) as (url, seen):
        download(url, dest, md5=hashlib.md5(payload).hexdigest(), chunk_size=64)
    assert dest.read_bytes() == payload
    assert seen == [(f"bytes={half}-", 206, len(payload) - half)]
    assert leftovers(tmp_path) == []


def test_http_server_ignoring_range_restarts_cleanly(tmp_path: Path, payload: bytes) -> None:
    dest = tmp_path / "imagenette.tgz"
    (tmp_path / "imagenette.tgz.part").write_bytes(b"x" * (len(payload) // 2))  # wrong bytes on purpose
    with serve(payload, honour_range=False) as (url, seen):
        download(url, dest, sha256=hashlib.sha256(payload).hexdigest())
    assert dest.read_bytes() == payload
    assert seen == [(f"bytes={len(payload) // 2}-", 200, len(payload))]


def test_http_416_restarts_from_zero(tmp_path: Path, payload: bytes) -> None:
    dest = tmp_path / "imagenette.tgz"
    (tmp_path / "imagenette.tgz.part").write_bytes(b"x" * (len(payload) + 10))  # longer than the file
    with serve(payload, honour_range=True) as (url, seen):
        download(url, dest, md5=hashlib.md5(payload).hexdigest())
    assert dest.read_bytes() == payload
    assert [status for _, status, _ in seen] == [416, 200]


def test_http_truncated_transfer_keeps_part_then_resumes(tmp_path: Path, payload: bytes) -> None:
    dest, md5 = tmp_path / "imagenette.tgz", hashlib.md5(payload).hexdigest()
    with serve(payload, honour_range=True, truncate=True) as (url, _):
        with pytest.raises(DownloadError, match="rerun to resume"):
            download(url, dest, md5=md5)
    assert not dest.exists()
    part = tmp_path / "imagenette.tgz.part"
    assert part.read_bytes() == payload[: len(payload) // 2]
    with serve(payload, honour_range=True) as (url, seen):
        download(url, dest, md5=md5)
    assert dest.read_bytes() == payload
    assert seen[0][:2] == (f"bytes={len(payload) // 2}-", 206)


def test_http_404_names_the_url(tmp_path: Path, payload: bytes) -> None:
    with serve(payload, honour_range=True) as (url, _):
        missing = url.replace("data.tgz", "missing.tgz")
        with pytest.raises(DownloadError) as err:
            download(missing, tmp_path / "missing.tgz", md5="0" * 32)
    assert missing in str(err.value) and "404" in str(err.value)
    assert "\n" not in str(err.value)
    assert not (tmp_path / "missing.tgz").exists()


# --- extract -------------------------------------------------------------------------------


def assert_extracted(dest: Path) -> None:
    for name, data in FILES.items():
        assert (dest / name).read_bytes() == data


@pytest.mark.parametrize("mode,suffix", [("w:gz", ".tgz"), ("w", ".tar"), ("w:bz2", ".tar.bz2"), ("w:xz", ".tar.xz")])
def test_extract_tar(tmp_path: Path, mode: str, suffix: str) -> None:
    archive = make_tar(tmp_path / f"data{suffix}", FILES, mode)
    dest = extract(archive, tmp_path / "out" / "data")
    assert dest == tmp_path / "out" / "data"
    assert_extracted(dest)
    assert leftovers(tmp_path) == []


def test_extract_zip(tmp_path: Path) -> None:
    dest = extract(make_zip(tmp_path / "data.zip", FILES), tmp_path / "data")
    assert_extracted(dest)
    assert leftovers(tmp_path) == []


def test_extract_skips_existing_nonempty_dest(tmp_path: Path) -> None:
    dest = tmp_path / "data"
    dest.mkdir()
    (dest / "marker").write_text("already here")
    assert extract(make_zip(tmp_path / "data.zip", FILES), dest) == dest
    assert [p.name for p in dest.iterdir()] == ["marker"]


def assert_refused(archive: Path, dest: Path, member: str) -> None:
    with pytest.raises(ValueError) as err:
        extract(archive, dest)
    message = str(err.value)
    assert str(archive) in message and member in message and "\n" not in message
    assert not dest.exists()
    assert leftovers(dest.parent) == []


def test_extract_refuses_tar_parent_escape(tmp_path: Path) -> None:
    root = tmp_path / "root"
    dest = root / "out" / "data"
    archive = make_tar(tmp_path / "evil.tgz", {"ok.txt": b"fine", "../evil": b"pwned"})
    assert_refused(archive, dest, "../evil")
    assert [p for p in tmp_path.rglob("evil")] == []


def test_extract_refuses_tar_absolute_path(tmp_path: Path) -> None:
    target = tmp_path / "abs_evil"
    archive = make_tar(tmp_path / "evil.tar", {"ok.txt": b"fine", str(target): b"pwned"}, "w")
    assert_refused(archive, tmp_path / "out", str(target))
    assert list(tmp_path.rglob("abs_evil")) == []


def test_extract_refuses_tar_symlink(tmp_path: Path) -> None:
    archive = tmp_path / "link.tar"
    with tarfile.open(archive, "w") as tar:
        link = tarfile.TarInfo("data/passwd")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tar.addfile(link)
    assert_refused(archive, tmp_path / "out", "data/passwd")


def test_extract_refuses_zip_parent_escape(tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "evil.zip", {"ok.txt": b"fine", "../evil": b"pwned"})
    assert_refused(archive, tmp_path / "out" / "data", "../evil")
    assert list(tmp_path.rglob("evil")) == []


def test_extract_rejects_non_archive(tmp_path: Path) -> None:
    bogus = tmp_path / "data.tgz"
    bogus.write_bytes(b"not an archive at all")
    with pytest.raises(ValueError, match="not a tar or zip"):
        extract(bogus, tmp_path / "out")
    assert not (tmp_path / "out").exists()
