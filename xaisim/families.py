"""Model families (cnn, transformer, hybrid, classical): a model entry's ``family`` or a default.

The default is read from the timm architecture name (no torch import, so the workflow can use it
when the DAG is built); scikit-learn models are ``classical``. A config entry's ``family:`` always
wins, e.g. for a timm model this table does not know.
"""

from __future__ import annotations

from typing import Any

FAMILIES = ("cnn", "transformer", "hybrid", "classical")

# Name prefixes of timm architectures, longest match wins; everything else counts as a CNN.
_PREFIXES = {
    "transformer": (
        "vit_", "deit", "swin", "pvt", "cait", "beit", "eva", "xcit", "twins", "tnt_", "pit_",
        "crossvit", "gcvit", "davit", "nest_", "mvitv2", "hiera", "flexivit", "samvit",
        "vitamin",
    ),
    "hybrid": (
        "vit_base_r", "vit_small_r", "vit_tiny_r", "vit_large_r", "vit_base_resnet", "vit_small_resnet",
        "coat", "coatnet", "maxvit", "maxxvit", "levit", "mobilevit", "efficientformer", "fastvit",
        "convit", "edgenext", "efficientvit", "nextvit", "tiny_vit", "repvit",
    ),
}


def default_family(arch: str) -> str:
    """The family of a timm architecture name (``name.tag`` accepted) by its prefix."""
    name = arch.split(".")[0].lower()
    best, length = "cnn", 0
    for family, prefixes in _PREFIXES.items():
        for prefix in prefixes:
            if name.startswith(prefix) and len(prefix) > length:
                best, length = family, len(prefix)
    return best


def family(entry: dict[str, Any]) -> str:
    """A model entry's family: its ``family`` key, ``classical`` for scikit-learn, else by ``arch``."""
    if entry.get("family"):
        return entry["family"]
    if entry.get("sklearn"):
        return "classical"
    return default_family(entry["arch"])
