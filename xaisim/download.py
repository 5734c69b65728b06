"""Resumable, checksummed dataset downloads and safe, atomic archive extraction."""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import posixpath
import shutil
import sys
import tarfile
import urllib.error
import urllib.request
import zipfile
from pathlib import Path, PureWindowsPath
from typing import Callable
from urllib.response import addinfourl

from tqdm import tqdm

from xaisim import __version__

log = logging.getLogger(__name__)


class DownloadError(RuntimeError):
    """A download failed for a network or HTTP reason; the message is one line naming the URL."""


def file_digest(path: str | Path, algorithm: str, chunk_size: int = 1 << 20) -> str:
    """Hex digest of the file at `path` with the hashlib `algorithm`, read in chunks."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as f:
        while chunk := f.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def _mismatches(path: Path, expected: dict[str, str]) -> list[tuple[str, str, str]]:
    """(algorithm, expected, actual) for every expected digest that `path` does not have."""
    actual = {alg: file_digest(path, alg) for alg in expected}
    return [(alg, expected[alg], actual[alg]) for alg in expected if actual[alg] != expected[alg]]


def download(
    url: str,
    dest: str | Path,
    *,
    md5: str | None = None,
    sha256: str | None = None,
    chunk_size: int = 1 << 20,
    timeout: float = 60,
) -> Path:
    """Download `url` to `dest`, resuming a previous partial download, and verify its checksums.

    The data goes to ``dest + ".part"`` and is renamed to `dest` only once complete and verified,
    so a file at `dest` is always whole. An existing `dest` that matches the checksums is reused.
    Raises `DownloadError` on network/HTTP failures (keeping the .part for resuming) and
    `ValueError` on a checksum mismatch (deleting the .part).
    """
    dest = Path(dest)
    expected = {alg: value.strip().lower() for alg, value in (("md5", md5), ("sha256", sha256)) if value}
    if not expected:
        log.warning("no md5/sha256 given for %s: %s will be unverified", url, dest)
    if dest.is_file():
        if not _mismatches(dest, expected):
            log.info("%s already downloaded", dest)
            return dest
        log.warning("%s exists but does not match its checksum; downloading it again", dest)

    part = dest.with_name(dest.name + ".part")
    dest.parent.mkdir(parents=True, exist_ok=True)
    log.info("downloading %s to %s", url, dest)
    try:
        _fetch(url, part, chunk_size, timeout)
    except urllib.error.HTTPError as e:
        raise DownloadError(f"cannot download {url}: HTTP {e.code} {e.reason}") from e
    except urllib.error.URLError as e:
        raise DownloadError(f"cannot download {url}: {e.reason}") from e
    except (OSError, http.client.HTTPException) as e:
        raise DownloadError(f"cannot download {url}: {type(e).__name__}: {e}") from e

    mismatches = _mismatches(part, expected)
    if mismatches:
        part.unlink()
        alg, want, got = mismatches[0]
        raise ValueError(
            f"{alg} mismatch for {url}: expected {want}, got {got}; the download was deleted - "
            f"check `data.{alg}` in the config, or retry if the transfer was corrupted"
        )
    os.replace(part, dest)
    return dest


def _open(url: str, part: Path, timeout: float) -> tuple[http.client.HTTPResponse | addinfourl, int]:
    """Open `url`, asking to resume after the bytes already in `part`; return (response, offset).

    The offset is where the response body starts: len(part) if the server honoured the range,
    otherwise 0 (the caller then rewrites `part` from scratch).
    """
    offset = part.stat().st_size if part.is_file() else 0
    request = urllib.request.Request(url, headers={"User-Agent": f"xaisim/{__version__}"})
    if offset:
        request.add_header("Range", f"bytes={offset}-")
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as e:
        if e.code != 416 or not offset:
            raise
        e.close()
        log.info("server refused to resume %s (HTTP 416); restarting from zero", url)
        part.unlink()
        return _open(url, part, timeout)
    if not offset:
        return response, 0
    if getattr(response, "status", None) != 206:  # ignored the range (file:// URLs always do)
        log.info("server does not support resuming %s; restarting from zero", url)
        return response, 0
    if not response.headers.get("Content-Range", "").startswith(f"bytes {offset}-"):
        response.close()
        log.info("server resumed %s at the wrong offset; restarting from zero", url)
        part.unlink()
        return _open(url, part, timeout)
    return response, offset


def _fetch(url: str, part: Path, chunk_size: int, timeout: float) -> None:
    """Stream `url` into `part` (appending when resuming) with a progress bar on stderr."""
    response, offset = _open(url, part, timeout)
    with response:
        length = response.headers.get("Content-Length")
        total = offset + int(length) if length else None
        with (
            open(part, "ab" if offset else "wb") as f,
            tqdm(
                total=total,
                initial=offset,
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                desc=part.name.removesuffix(".part"),
                file=sys.stderr,
            ) as bar,
        ):
            while chunk := response.read(chunk_size):
                f.write(chunk)
                bar.update(len(chunk))
    size = part.stat().st_size
    if total is not None and size != total:
        raise DownloadError(f"cannot download {url}: connection closed after {size} of {total} bytes; rerun to resume")


def _check_member(archive: Path, name: str) -> None:
    """Raise if archive member `name` has an absolute path or escapes the extraction directory."""
    if name.startswith(("/", "\\")) or PureWindowsPath(name).drive:
        raise ValueError(f"refusing to extract {archive}: member {name!r} has an absolute path")
    if posixpath.normpath(name.replace("\\", "/")).split("/")[0] == "..":
        raise ValueError(f"refusing to extract {archive}: member {name!r} escapes the destination directory")


def _tar_filter(archive: Path) -> Callable[[tarfile.TarInfo, str], tarfile.TarInfo]:
    """tarfile extraction filter: our path checks, no links or devices, then tarfile's "data" filter."""

    def check(member: tarfile.TarInfo, path: str) -> tarfile.TarInfo:
        _check_member(archive, member.name)
        if not (member.isfile() or member.isdir()):
            raise ValueError(f"refusing to extract {archive}: member {member.name!r} is a link or special file")
        return tarfile.data_filter(member, path)

    return check


def extract(archive: str | Path, dest_dir: str | Path) -> Path:
    """Safely extract a tar (optionally gz/bz2/xz compressed) or zip `archive` into `dest_dir`.

    Members with absolute paths, paths escaping `dest_dir`, and (tar) links or devices are refused
    with a `ValueError`. Extraction happens in a temporary sibling directory that is renamed to
    `dest_dir` at the end, so an interrupted extraction never leaves a complete-looking `dest_dir`.
    A non-empty existing `dest_dir` is taken as already extracted and returned as is.
    """
    archive, dest_dir = Path(archive), Path(dest_dir)
    if dest_dir.is_dir() and any(dest_dir.iterdir()):
        log.info("%s already exists; not extracting %s", dest_dir, archive)
        return dest_dir
    if not archive.is_file():
        raise FileNotFoundError(f"archive {archive} does not exist")
    dest_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest_dir.with_name(f".{dest_dir.name}.{os.getpid()}.partial")  # mkdir (not mkdtemp): honour umask
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zf:
                for name in zf.namelist():
                    _check_member(archive, name)
                zf.extractall(tmp)
        elif tarfile.is_tarfile(archive):
            with tarfile.open(archive) as tar:
                tar.extractall(tmp, filter=_tar_filter(archive))
        else:
            raise ValueError(f"cannot extract {archive}: not a tar or zip archive")
        os.replace(tmp, dest_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dest_dir


def write_manifest(root: str | Path, path: str | Path) -> None:
    """List every file under ``root`` (relative path, size) in a TSV: the marker of a finished extraction."""
    import pandas as pd

    from xaisim.io import write_csv

    root = Path(root)
    files = sorted(p for p in root.rglob("*") if p.is_file())
    rows = [(p.relative_to(root).as_posix(), p.stat().st_size) for p in files]
    write_csv(pd.DataFrame(rows, columns=["path", "size"]), path, sep="\t", index=False)
