"""The docs cannot drift: the configuration reference is generated from the schema, the README stays
short, and every relative link points at a file.

    python tests/test_docs.py    # rewrite the generated reference in docs/configuration.md
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Iterator

import yaml

REPO = Path(__file__).resolve().parents[1]
SCHEMA = REPO / "schemas" / "config.schema.yaml"
CONFIGURATION = REPO / "docs" / "configuration.md"
BEGIN = "<!-- BEGIN reference: generated from schemas/config.schema.yaml by `python tests/test_docs.py` -->"
END = "<!-- END reference -->"
README_MAX_LINES = 200


def _resolve(node: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """``node`` with a local ``$ref`` merged in: the node's own keys win (a description), its own
    ``properties`` are merged key by key into the target's (the top-level ``train`` adds defaults)."""
    ref = node.get("$ref")
    if ref is None:
        return node
    target = schema
    for part in ref.removeprefix("#/").split("/"):
        target = target[part]
    return _merge(target, {k: v for k, v in node.items() if k != "$ref"})


def _merge(base: dict[str, Any], own: dict[str, Any]) -> dict[str, Any]:
    merged = {**base, **own}
    if "properties" in base and "properties" in own:
        merged["properties"] = {
            key: _merge(base["properties"].get(key, {}), own["properties"].get(key, {}))
            for key in {**base["properties"], **own["properties"]}
        }
    return merged


def properties(schema: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every config key as (path, its resolved schema node), depth first in schema order.

    List items are ``key[]``; a definition shared by several keys (``$defs/train``) is expanded
    under the first key only (``models[].train`` has the same keys as ``train``)."""
    expanded: set[str] = set()

    def walk(node: dict[str, Any], prefix: str) -> Iterator[tuple[str, dict[str, Any]]]:
        for key, child in node.get("properties", {}).items():
            path = f"{prefix}{key}"
            ref = child.get("$ref")
            resolved = _resolve(child, schema)
            yield path, resolved
            if ref is not None and "properties" in resolved:
                if ref in expanded:
                    continue
                expanded.add(ref)
            if resolved.get("type") == "array" and isinstance(resolved.get("items"), dict):
                yield from walk(_resolve(resolved["items"], schema), f"{path}[].")
            else:
                yield from walk(resolved, f"{path}.")

    yield from walk(schema, "")


def _allowed(node: dict[str, Any]) -> str:
    """The values a key takes, in short: an enum, a type, or the alternatives of a oneOf."""
    if "enum" in node:
        return ", ".join(str(v) for v in node["enum"])
    if "const" in node:
        return str(node["const"])
    kind = node.get("type", "")
    if kind == "array" and isinstance(node.get("items"), dict):
        return f"list of {_allowed(node['items'])}"
    if kind or "oneOf" not in node:
        return kind
    return " or ".join(_allowed(n) for n in node["oneOf"])


def _default(node: dict[str, Any]) -> str:
    return f"`{json.dumps(node['default'])}`" if "default" in node else ""


def reference(schema: dict[str, Any]) -> str:
    """The reference table of every config key: path, values, default, the schema's description."""
    rows = ["| key | values | default | description |", "| --- | --- | --- | --- |"]
    for path, node in properties(schema):
        cells = [f"`{path}`", _allowed(node), _default(node), " ".join(node.get("description", "").split())]
        rows.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(rows)


def _load_schema() -> dict[str, Any]:
    return yaml.safe_load(SCHEMA.read_text())


def _generated_block(text: str) -> str:
    assert BEGIN in text and END in text, f"{CONFIGURATION} lacks the generated reference markers"
    return text.split(BEGIN, 1)[1].split(END, 1)[0].strip()


def write_reference() -> None:
    """Rewrite the generated block of docs/configuration.md from the schema."""
    text = CONFIGURATION.read_text()
    head, rest = text.split(BEGIN, 1)
    tail = rest.split(END, 1)[1]
    CONFIGURATION.write_text(f"{head}{BEGIN}\n{reference(_load_schema())}\n{END}{tail}")


def test_every_config_key_is_described_in_the_schema():
    missing = [path for path, node in properties(_load_schema()) if not node.get("description", "").strip()]
    assert not missing, f"schema keys without a description: {missing}"


def test_configuration_reference_is_the_schema():
    committed = _generated_block(CONFIGURATION.read_text())
    assert committed == reference(_load_schema()), (
        "docs/configuration.md's reference differs from schemas/config.schema.yaml: run `python tests/test_docs.py`"
    )


def test_readme_is_short():
    lines = (REPO / "README.md").read_text().splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines (at most {README_MAX_LINES})"


LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def test_relative_links_point_at_files():
    pages = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
    broken = []
    for page in pages:
        for target in LINK.findall(page.read_text()):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
                continue  # a URL or an anchor on the same page
            path = target.split("#", 1)[0]
            if not (page.parent / path).exists():
                broken.append(f"{page.relative_to(REPO)}: {target}")
    assert not broken, f"links to missing files: {broken}"


if __name__ == "__main__":
    write_reference()


def test_every_test_the_fault_table_names_exists():
    text = (REPO / "docs" / "faults.md").read_text()
    missing = []
    for cell in re.findall(r"^\|[^|]*\|[^|]*\| (.+) \|$", text, re.M)[1:]:
        current = None
        for ref in re.findall(r"`([^`]+)`", cell):
            path, _, name = ref.partition("::")
            current = REPO / "tests" / path if path else current
            if not current.is_file() or (name and not re.search(rf"^def {name}\(", current.read_text(), re.M)):
                missing.append(ref)
    assert not missing, f"docs/faults.md names tests that do not exist: {missing}"
