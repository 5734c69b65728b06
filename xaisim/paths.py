"""The catalogue of artefacts: every file the workflow reads or writes, named by its parts.

Rules, scripts and writers take paths from here and never spell one out. A pattern holds Snakemake
wildcards (``{model}``, ``{method}``, ...); :func:`fill` puts values in (parts left out stay
wildcards), so one pattern serves a rule's output, another rule's input and a writer's file name.
Importing this module costs nothing (the Snakefile does it at every parse).
"""

from __future__ import annotations

import re
from typing import Any

RESULTS = "results"
RESOURCES = "resources"

# data
ARCHIVE = f"{RESOURCES}/{{archive}}"
EXTRACTED = f"{RESOURCES}/data/{{key}}"
MANIFEST = f"{EXTRACTED}/manifest.tsv"
INDEX = f"{RESULTS}/data/index.csv"
SUBSET = f"{RESULTS}/data/explain.csv"
FIGURE_IMAGES = f"{RESULTS}/data/figure_images.csv"  # figures.images, checked against the subset

# models
WEIGHTS = f"{RESULTS}/models/{{model}}/weights.safetensors"
TRAIN_METRICS = f"{RESULTS}/models/{{model}}/metrics.json"
PREDICTIONS = f"{RESULTS}/predictions/{{model}}.csv"
CENTRE_CROP = f"{RESULTS}/predictions/centre_crop/{{model}}.csv"
FEATURES = f"{RESULTS}/features/{{model}}.safetensors"

# explanations and their similarity
EXPLANATION = f"{RESULTS}/explanations/{{method}}/{{model}}.safetensors"
SIMILARITY_DIR = f"{RESULTS}/similarity/{{method}}"
ZERO_MAPS = f"{SIMILARITY_DIR}/zero_maps.csv"
PER_IMAGE = f"{SIMILARITY_DIR}/{{metric}}/per_image.safetensors"
MATRIX = f"{SIMILARITY_DIR}/{{metric}}/{{variant}}/{{stat}}.csv"
CLUSTERS = f"{RESULTS}/clusters/{{method}}/{{metric}}/{{variant}}/clusters.csv"
CLUSTER_SUMMARY = f"{RESULTS}/clusters/{{method}}/{{metric}}/{{variant}}/summary.json"
EVIDENCE = "cross_deletion"  # the metric folder of a map method's clustered cross-model deletion distance (variant "all")

# statistics: one folder, a table per name
STATISTIC = f"{RESULTS}/statistics/{{table}}.csv"
STATISTIC_PART = f"{RESULTS}/statistics/parts/{{statistic}}/{{model}}/{{table}}.csv"  # a per-model statistic's part

# figures
FIGURES = f"{RESULTS}/figures"
CLUSTER_FIGURE = f"{FIGURES}/{{method}}/{{metric}}/{{variant}}/{{figure}}.png"
METRIC_FIGURE = f"{FIGURES}/{{method}}/{{metric}}/{{figure}}.png"
METHOD_FIGURE = f"{FIGURES}/{{method}}/{{figure}}.png"
EXPLANATION_FIGURE = f"{FIGURES}/explanations/{{figure}}.png"
SELECTION = f"{FIGURES}/explanations/selection.csv"
STATISTICS_FIGURE = f"{FIGURES}/statistics/{{figure}}.png"
MODELS_FIGURE = f"{FIGURES}/{{figure}}.png"

# summary
SUMMARY_TABLE = f"{RESULTS}/summary/{{table}}.csv"
SUMMARY = f"{RESULTS}/summary.md"
REPORT = f"{RESULTS}/report.html"

# the files of an image folder that are images (the index and its change detection read these)
IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp"}

_WILDCARD = re.compile(r"\{(\w+)\}")


def fill(pattern: str, **parts: Any) -> str:
    """``pattern`` with the given parts filled in; the others stay ``{wildcards}``."""
    return _WILDCARD.sub(lambda m: str(parts[m[1]]) if m[1] in parts else m[0], pattern)


def log(rule: str, *parts: str) -> str:
    """The log file of a job of ``rule``; ``parts`` are its wildcards' values (or patterns)."""
    return "/".join([RESULTS, "logs", rule, *parts]) + ".log"


def benchmark(rule: str, *parts: str) -> str:
    """Snakemake's benchmark file of a job of ``rule`` (same parts as :func:`log`)."""
    return "/".join([RESULTS, "benchmarks", rule, *parts]) + ".tsv"
