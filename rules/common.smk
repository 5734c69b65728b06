import hashlib
import re
from pathlib import Path
from urllib.parse import urlparse

from snakemake.utils import validate

from xaisim import paths as P
from xaisim.config import check_paths, check_schema, expand_replicates
from xaisim.workflow import JOB_OVERHEAD_MB, CodeHashes, folder_digest, resolved_config
from xaisim.families import family

SCHEMA = Path(workflow.basedir) / "schemas" / "config.schema.yaml"
check_schema(config, SCHEMA)  # one-line messages for the common mistakes
validate(config, "../schemas/config.schema.yaml")  # fills in the schema's defaults
check_paths(config)
config["models"] = expand_replicates(
    config["models"]
)  # `seeds: [...]` -> <name>-s<seed>, before resolving


def _resolve():
    # imports torch and timm: only when the cache below misses
    from xaisim.config import resolve

    return resolve


# Checked config with every default filled in, cached in .snakemake/ per config and code version;
# the code hashes of the rules' params, cached there per version of the sources.
RESOLVED = resolved_config(config, _resolve, Path(".snakemake") / "xaisim")
CODE_HASHES = CodeHashes(Path(".snakemake") / "xaisim")

MODELS = {m["name"]: m for m in config["models"]}
METHODS = {m["name"]: m for m in config["methods"]}
METRICS = {m["name"]: m for m in config["metrics"]}
DATA = config["data"]

# CACHING CONVENTION, followed by every rule (tests/test_caching.py checks the effects)
# - params hold exactly what determines the outputs, with defaults filled in (from RESOLVED or the
#   schema), plus `code=code("scripts/<script>.py")`, the hash of the script and the xaisim modules
#   it imports (xaisim.workflow.code_hash). Jobs running a registered method or metric pass its key
#   (`code(script, method_key)`), so editing another method's module does not rerun them.
# - Performance knobs (DataLoader workers, inference batch sizes, chunk sizes, device, threads) never
#   go into params: they are resources (`num_workers`, `batch_size`, `chunk_size`, `device`), which
#   scripts read as snakemake.resources.<name>; threads count the DataLoader workers.
# - Data is an input: files through input, an image folder through its digest in params.


def _one_of(names):
    return "|".join(re.escape(n) for n in names) or "(?!)"  # (?!) never matches


wildcard_constraints:
    model=_one_of(MODELS),
    method=_one_of(METHODS),
    metric=_one_of(METRICS),
    variant=_one_of(RESOLVED["variants"]),


def canonical(value):
    """Dicts with sorted keys, recursively: params compare by repr, so key order must not matter."""
    if isinstance(value, dict):
        return {k: canonical(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [canonical(v) for v in value]
    return value


def code(script, *keys):
    """Params entry `code`: hash of `script` and the xaisim modules it uses.

    `keys`: the registered methods/metrics the job runs, or one function of the wildcards giving
    the job's one (then `code` is a function too).
    """
    if keys and callable(keys[0]):
        return lambda wildcards: CODE_HASHES(script, keys[0](wildcards))
    return CODE_HASHES(script, *keys)


def resources(rule, gpu=False, **defaults):
    """Snakemake resources of a rule: built-in defaults, overridden by config `resources.<rule>`.

    SLURM gets `cpus_per_task` = the rule's threads; `gpu=True` rules ask for one GPU unless the
    config's `device` is `cpu`."""
    own = {"cpus_per_task": lambda wildcards, threads: threads}
    if gpu:
        own["gpu"] = 0 if config["device"] == "cpu" else 1
    return {**own, **defaults, **config["resources"].get(rule, {})}


def torch_threads(workers=0):
    """CPUs of a torch job: its torch threads plus its DataLoader worker processes."""
    if callable(workers):
        return lambda wildcards: config["threads"] + workers(wildcards)
    return config["threads"] + workers


FAMILIES = {name: family(entry) for name, entry in MODELS.items()}
FORMATS = config["figures"]["formats"]


def final_outputs():
    """Every target of the default rule: the summary, and what no other target depends on."""
    outputs = [P.SUMMARY, P.SELECTION]
    for figure in CLUSTER_FIGURES:  # rules/helpers/cluster.smk
        outputs += cluster_files(P.fill(P.CLUSTER_FIGURE, figure=figure))
    for method in METHODS:
        metrics = method_metrics(method)
        outputs += similarity_paths(method)
        outputs += expand(
            P.METRIC_FIGURE, method=method, metric=metrics, figure="histograms"
        )
        if method in EXAMPLE_METHODS:
            outputs += expand(
                P.METHOD_FIGURE, method=method, figure=["top_similar", "class_scores"]
            )
    if EXAMPLE_METHODS:
        outputs.append(P.fill(P.SUMMARY_TABLE, table="identical_class"))
    return outputs + statistics_outputs()  # rules/statistics.smk
