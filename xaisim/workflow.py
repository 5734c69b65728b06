"""What the Snakefile needs at parse time, without importing torch: code hashes, data digests, config cache.

Snakemake reruns a job when its ``params`` change, so every rule's params carry
(1) the config slice that determines its result, with defaults filled in,
(2) :func:`code_hash` of its script and the ``xaisim`` modules that script imports (found by an
AST scan, so a changed line of logic reruns that stage and what depends on it, a touched file or a
changed comment does not), and (3) for an image folder, :func:`folder_digest` of its content
(file hashes, not modification times).
Filling in the defaults needs the registries (torch, timm): :func:`resolved_config` does it once per
config and code version and caches the result under ``.snakemake/``, so dry runs and the re-parse
in every cluster job stay fast.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any, Callable

PACKAGE = Path(__file__).resolve().parent
ROOT = PACKAGE.parent

# MiB a torch job holds beside its explain.memory_mb: the interpreter, torch, timm and captum
# (measured: 1.0-1.5 GB RSS before the first forward on CPU); a job's SLURM mem_mb is their sum
JOB_OVERHEAD_MB = 2000


def _digest(*parts: str | bytes) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part if isinstance(part, bytes) else part.encode())
        h.update(b"\0")
    return h.hexdigest()[:16]


@cache
def _parse(path: Path) -> ast.Module:
    return ast.parse(path.read_bytes(), filename=str(path))


def _module_file(name: str) -> Path | None:
    """The file of module ``xaisim.a.b`` (``a/b.py`` or ``a/b/__init__.py``), None if not ours."""
    parts = name.split(".")
    if parts[0] != PACKAGE.name:
        return None
    base = PACKAGE.joinpath(*parts[1:])
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


@cache
def _tree(path: Path) -> str:
    """Digest of a file's syntax tree: formatting and comments do not count."""
    return _digest(ast.dump(_parse(path)))


@cache
def _imports(path: Path) -> list[Path]:
    """Files of the xaisim modules ``path`` imports anywhere (also inside functions) and their packages."""
    package = _module_name(path).split(".") if path.is_relative_to(PACKAGE) else []
    if package and path.name != "__init__.py":
        package = package[:-1]
    names: list[str] = []
    for node in ast.walk(_parse(path)):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package[: len(package) - node.level + 1] + ([base] if base else []))
            names += [base] + [f"{base}.{a.name}" for a in node.names]
    files: list[Path] = []
    for name in names:
        parts = name.split(".")
        for i in range(1, len(parts) + 1):  # importing a.b.c runs a/__init__ and a/b/__init__ too
            found = _module_file(".".join(parts[:i]))
            if found and found not in files:
                files.append(found)
    return files


@cache
def registered(path: Path) -> set[str]:
    """Names that ``path`` registers with a decorator ``@<registry>.register("name")`` / ``@register_x("name")``."""
    names = set()
    for node in ast.walk(_parse(path)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            for dec in node.decorator_list:
                if isinstance(dec, ast.Call) and dec.args and isinstance(dec.args[0], ast.Constant):
                    func = dec.func
                    fname = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                    if fname == "register" or fname.startswith("register_"):
                        names.add(dec.args[0].value)
    return names


@cache
def stage_sources(script: str, keys: tuple[str, ...] = ()) -> tuple[Path, ...]:
    """The script and every xaisim module it imports, transitively.

    A package ``__init__`` that imports its plugin modules only to register them (all methods, all
    metrics) does not make a stage depend on every plugin: such a module counts only where it
    registers one of ``keys`` (the method or metric the job runs) or where a non-``__init__``
    module imports it.
    """
    start = (ROOT / script).resolve()
    seen: list[Path] = [start]
    todo = [start]
    while todo:
        path = todo.pop()
        for dep in _imports(path):
            if dep in seen:
                continue
            plugin = registered(dep)
            if path.name == "__init__.py" and plugin and not plugin & set(keys):
                continue
            seen.append(dep)
            todo.append(dep)
    return tuple(sorted(seen))


@cache
def code_hash(script: str, *keys: str) -> str:
    """Hash of the code of a stage: its script and xaisim modules (see :func:`stage_sources`).

    Hashes each file's syntax tree, so formatting and comments do not count; file times never do.
    """
    parts = []
    for path in stage_sources(script, tuple(sorted(keys))):
        parts += [path.relative_to(ROOT).as_posix(), _tree(path)]
    return _digest(*parts)


class CodeHashes:
    """:func:`code_hash` kept in ``cache_dir`` per version of the sources' bytes (every xaisim module
    and script), so that a parse of unchanged code parses no syntax tree; any changed byte (a
    comment too) recomputes them, with the same results where only comments or formatting changed."""

    def __init__(self, cache_dir: str | Path) -> None:
        files = sorted(PACKAGE.rglob("*.py")) + sorted((ROOT / "scripts").rglob("*.py"))
        self.path = Path(cache_dir) / f"code-{_bytes_digest(files)}.json"
        self.known: dict[str, str] = json.loads(self.path.read_text()) if self.path.is_file() else {}

    def __call__(self, script: str, *keys: str) -> str:
        name = "|".join([script, *sorted(keys)])
        if name not in self.known:
            self.known[name] = code_hash(script, *keys)
            _store(self.path, self.known)
        return self.known[name]


def folder_digest(root: str | Path, suffixes: set[str], cache_file: str | Path) -> str:
    """Digest of a folder's content: the relative path, size and SHA-256 of every file with one of
    ``suffixes`` (hidden files and folders left out, as the index leaves them out).

    A file's hash is kept in ``cache_file`` under its path, size, modification time and inode, so a
    parse reads only files that are new or changed; touching a file, or copying the folder without
    preserved times, rehashes it once and changes nothing."""
    root = Path(root)
    cache_file = Path(cache_file)
    known = json.loads(cache_file.read_text()) if cache_file.is_file() else {}
    fresh, entries = {}, []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if name.startswith(".") or Path(name).suffix.lower() not in suffixes:
                continue
            path = os.path.join(dirpath, name)
            st = os.stat(path)
            key = f"{os.path.abspath(path)}\t{st.st_size}\t{st.st_mtime_ns}\t{st.st_ino}"
            fresh[key] = known.get(key) or hashlib.sha256(Path(path).read_bytes()).hexdigest()
            entries.append(f"{os.path.relpath(path, root)}\t{st.st_size}\t{fresh[key]}")
    if fresh != known:
        _store(cache_file, fresh)
    return _digest(*entries)


def _package_hash() -> str:
    """Digest of every xaisim source file's bytes (a key of the config cache: a changed comment
    only costs one more config check, so the bytes do, and no file is parsed for it)."""
    files = sorted(PACKAGE.rglob("*.py"))
    return _bytes_digest(files)


def _bytes_digest(files: list[Path]) -> str:
    """Digest of the files' paths (relative to the repository) and bytes."""
    return _digest(*(p.relative_to(ROOT).as_posix().encode() + p.read_bytes() for p in files))


def _store(path: Path, data: dict[str, str]) -> None:
    """Write a cache file atomically (a parse running beside this one reads it whole or not at all)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, sort_keys=True))
    os.replace(tmp, path)


def resolved_config(config: dict[str, Any], resolve: Callable[[], Callable[[dict], dict]], cache_dir: str | Path) -> dict:
    """``resolve()(config)`` (checks that need torch/timm, defaults filled in), cached per config and code.

    The cache key covers the config, every xaisim source file and the timm and torch versions, so a
    new architecture list, a changed registry or an upgraded timm is checked again.
    """
    versions = [f"{d}=={metadata.version(d)}" for d in ("timm", "torch")]
    key = _digest(json.dumps(config, sort_keys=True, default=str), _package_hash(), *versions)
    path = Path(cache_dir) / f"config-{key}.json"
    if path.is_file():
        return json.loads(path.read_text())
    text = json.dumps(resolve()(config), sort_keys=True)  # sorted keys: params compare by repr
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_text(text)
    os.replace(tmp, path)
    return json.loads(text)
