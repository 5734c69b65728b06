"""Statistics over the model x model matrices: is a pattern real, and what does "similar" mean?

A statistic is one module ``xaisim/statistics/<name>.py`` registering one function as ``<name>``
in :data:`STATISTICS`; ``rules/statistics.smk`` makes one rule (named ``<name>``) per registered
statistic from what it declares at registration, and ``scripts/statistic.py`` imports the module
and calls the function as ``fn(inputs, tables, **params)``: ``inputs`` and ``tables`` map the
declared names to paths, ``params`` are its settings and context values (and ``device`` for a
torch statistic). The declarations (:data:`DECLARATION`, checked by :func:`declarations`):

- ``reads``: input name -> a kind of workflow file (:data:`INPUTS`) or a table another statistic
  writes (its name under ``results/statistics/``);
- ``optional``: input name -> a table another statistic writes, read only when that statistic runs
  (the input is absent otherwise; a statistic that can be turned off feeds another this way);
- ``writes``: output name -> table name (``results/statistics/<table>.csv``, ``xaisim.paths.STATISTIC``);
  ``report``: output name -> its label in the report (tables listed there, ``report/statistics_tables.rst``);
- ``settings``: keys of the ``statistics`` config section (dotted for a subsection, the last part
  names the parameter), defaults in the schema; ``enabled``: a boolean setting that turns it off;
- ``context``: values the workflow supplies (:data:`CONTEXT`); ``requires``: context values that
  must be non-empty for the statistic to run;
- ``figures``: figure name -> what it is drawn over (:data:`OVER`), drawn by the function
  registered under that name in :data:`xaisim.plots.statistics.FIGURES`, captioned by
  ``report/statistics_<figure>.rst``;
- ``torch`` (imports torch; gets the job's device), ``gpu`` (asks for a GPU), ``resources``
  (Snakemake defaults such as ``mem_mb``, ``runtime``);
- ``per_model``: one job per model (rule ``<name>_model``), which reads that model's files only and
  gets its context for that model alone (:data:`PER_MODEL_CONTEXT`), writing its part of every table
  (``xaisim.paths.STATISTIC_PART``); a light job (rule ``<name>``, :func:`gather`) joins the parts in
  model order into the tables. A cluster runs the models in parallel; a changed or added model reruns
  its own part only. The function must give each model's rows independently of the other models.

Computations live beside the statistics in helper modules: prediction agreement and error
consistency (:mod:`.agreement`), linear CKA (:mod:`.cka`) and the representation references
beside it (:mod:`.representation`), Mantel tests (:mod:`.mantel`), image-count influence
(:mod:`.image_count`), family separation (:mod:`.separation`), the replicate noise floor
(:mod:`.noise_floor`), cluster stability (:mod:`.stability`), model-parameter randomisation
(:mod:`.sanity`), the distance of a resample (:mod:`.matrix`). A statistic that is undefined
for the data at hand (too few models, no within-family pair, ...) is NaN with a logged warning
that says why, never an exception.
"""

from __future__ import annotations

import copy
import importlib
import logging
import pkgutil
from pathlib import Path
from typing import Any, Callable

from xaisim.registry import Registry

log = logging.getLogger("xaisim.statistics")

STATISTICS: Registry[Callable[..., None]] = Registry("statistic")

# the kinds of workflow files a statistic reads (rules/statistics.smk gives their paths)
INPUTS = {
    "index": "the image index",
    "subset": "the explained images",
    "predictions": "every model's predictions",
    "features": "every model's pre-logit features",
    "weights": "every model's weights",
    "mean": "the mean similarity matrix of every explanation (method/metric/variant)",
    "distance": "the distance matrix of every explanation",
    "per_image": "the per-image similarities of every method/metric",
    "maps": "the explanation file of every map method x model (method-major, config order)",
}
# the values a statistic may take as parameters besides its settings
CONTEXT = {
    "models": "the model names",
    "explanations": "every method/metric/variant key",
    "matrices": "every method/metric key",
    "families": "model -> family",
    "replicate_of": "replicate model -> its entry's name",
    "cluster": "the cluster section",
    "specs": "model -> what builds its network",
    "map_methods": "map method -> its registered key and each model's params",
    "image_size": "data.image_size",
}
# what a figure is drawn over: one figure, one per method/metric, one per map method
OVER = ("once", "matrices", "map_methods")
DECLARATION: dict[str, Any] = {
    "reads": {}, "optional": {}, "writes": {}, "report": {}, "settings": [], "enabled": None, "context": [], "requires": [],
    "figures": {}, "torch": False, "gpu": False, "resources": {}, "per_model": False,
}
# the context a per-model statistic may take (each restricted to its model) and the kinds it reads per model
PER_MODEL_CONTEXT = ("specs", "map_methods", "image_size")
PER_MODEL_INPUTS = ("predictions", "features", "weights", "maps")
PART_RULE = "_model"  # suffix of a per-model statistic's part rule
# the declaration shared by the statistics that run the trained models over the explained images
# (sanity, faithfulness, random logit, cross-model deletion): ``**MODEL_RUN`` with its own reads
MODEL_READS = {"index": "index", "subset": "subset", "predictions": "predictions", "weights": "weights"}
MODEL_RUN: dict[str, Any] = {
    "context": ["specs", "map_methods", "image_size"], "requires": ["map_methods"], "torch": True, "gpu": True,
    "resources": {"mem_mb": 8000, "runtime": 60},
}


def undefined(what: str, reason: str) -> float:
    """NaN for a statistic that cannot be computed, with a warning naming it and the reason."""
    log.warning("%s is undefined: %s", what, reason)
    return float("nan")


def load(name: str) -> Callable[..., None]:
    """The registered function of statistic ``name`` (imports its module only)."""
    importlib.import_module(f"{__name__}.{name}")
    return STATISTICS.get(name)


def declarations() -> dict[str, dict[str, Any]]:
    """Every statistic's declaration, defaults filled in, with ``source`` (its module's file).

    Imports every module of the package (torch with :mod:`.sanity`): the workflow gets these
    through the cached resolved config (:func:`xaisim.config.resolve`)."""
    for module in pkgutil.iter_modules([str(Path(__file__).parent)]):
        importlib.import_module(f"{__name__}.{module.name}")
    out = {}
    for name in STATISTICS.names():
        fn, info = STATISTICS.get(name), STATISTICS.info(name)
        if fn.__module__ != f"{__name__}.{name}":
            raise ValueError(f"statistic {name!r} is registered in {fn.__module__}; it must live in {__name__}.{name}")
        unknown = sorted(set(info) - set(DECLARATION))
        if unknown:
            raise ValueError(f"statistic {name!r}: unknown declaration(s) {unknown}; known: {sorted(DECLARATION)}")
        out[name] = {**copy.deepcopy(DECLARATION), **info, "source": f"xaisim/statistics/{name}.py"}
    _check(out)
    return out


def _check(found: dict[str, dict[str, Any]]) -> None:
    """Reads name a kind or a written table, context and figures known, each table written once."""
    writers: dict[str, str] = {}
    for name, d in found.items():
        for table in d["writes"].values():
            if table in writers or table in INPUTS:
                raise ValueError(f"statistic {name!r}: table {table!r} is written by {writers.get(table, 'a workflow kind')}")
            writers[table] = name
    for name, d in found.items():
        problems = [f"reads {r!r}" for r in d["reads"].values() if r not in INPUTS and r not in writers]
        problems += [f"optional {r!r}" for r in d["optional"].values() if r not in writers]
        problems += [f"context {c!r}" for c in [*d["context"], *d["requires"]] if c not in CONTEXT]
        problems += [f"figure {f!r} over {o!r}" for f, o in d["figures"].items() if o not in OVER]
        problems += [f"report {r!r}" for r in d["report"] if r not in d["writes"]]
        if d["per_model"]:
            problems += [f"per-model context {c!r}" for c in d["context"] if c not in PER_MODEL_CONTEXT]
        if problems:
            raise ValueError(f"statistic {name!r}: unknown {', '.join(problems)}")


def gather(parts: dict[str, list[str]], tables: dict[str, str]) -> None:
    """Each table of a per-model statistic from its parts (the models' CSVs, in model order): the
    header once, then every part's rows as written. Parts with different headers are an error; a
    part without rows adds none."""
    from xaisim.io import atomic_path

    for key, paths in parts.items():
        header, rows = None, []
        for path in paths:
            lines = Path(path).read_text().splitlines(keepends=True)
            if not lines or not lines[0].strip().strip('"'):
                continue  # a part without columns (no rows at all)
            if header is not None and lines[0] != header:
                raise ValueError(f"{path}: columns {lines[0].strip()} differ from the other parts' {header.strip()}")
            header = lines[0]
            rows += lines[1:]
        with atomic_path(tables[key]) as tmp:
            Path(tmp).write_text((header or "\n") + "".join(rows))
