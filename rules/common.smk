import hashlib
import re
from pathlib import Path
from urllib.parse import urlparse

from snakemake.utils import validate

from xaisim import paths as P
from xaisim.config import check_paths, check_schema, expand_replicates
from xaisim.workflow import code_hash, folder_digest, resolved_config
from xaisim.families import family
from xaisim.selection import CATEGORIES

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


# Checked config with every default filled in, cached in .snakemake/ per config and code version.
RESOLVED = resolved_config(config, _resolve, Path(".snakemake") / "xaisim")

MODELS = {m["name"]: m for m in config["models"]}
METHODS = {m["name"]: m for m in config["methods"]}
METRICS = {m["name"]: m for m in config["metrics"]}
DATA = config["data"]
# methods with their own rule because they need the train split (registered functions with
# `needs_train_split`; listed by key here so that parsing imports no torch)
EXAMPLE_METHODS = [
    n for n, m in METHODS.items() if m["method"] == "gradient_similarity"
]
MAP_METHODS = [n for n in METHODS if n not in EXAMPLE_METHODS]

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
        return lambda wildcards: code_hash(script, keys[0](wildcards))
    return code_hash(script, *keys)


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


def archive_name():
    return Path(urlparse(DATA["url"]).path).name


def archive_key():
    """The extraction folder's name: the archive's checksum (or its URL's hash without one)."""
    checksum = DATA.get("sha256") or DATA.get("md5")
    return checksum or f"url-{hashlib.sha256(DATA['url'].encode()).hexdigest()[:16]}"


def archive_identity():
    """What determines the downloaded archive: its checksums, or its URL when there is none (a
    mirror with the same checksum downloads nothing again; the script reads the URL from config).
    """
    checksums = {k: DATA[k] for k in ("md5", "sha256") if DATA.get(k)}
    return checksums or {"url": DATA["url"]}


def data_inputs(wildcards):
    if DATA["source"] == "url":
        return [f"resources/data/{archive_key()}/manifest.tsv"]
    return []


def data_params():
    """The data slice that determines the index: the keys its source uses, defaults filled in."""
    used = {
        "digits": ("image_size", "val_fraction"),
        "imagefolder": ("path",),
        "url": ("subdir",),
    }[DATA["source"]]
    params = {"source": DATA["source"], **{k: DATA[k] for k in used if k in DATA}}
    if DATA["source"] == "digits":
        params["seed"] = config["seed"]
    if DATA["source"] == "imagefolder":
        params["content"] = folder_digest(DATA["path"])
    if DATA["source"] == "url":
        params["archive"] = archive_key()
    return canonical(params)


def model_spec(wildcards):
    return RESOLVED["models"][wildcards.model]["spec"]


def pretrained_input(wildcards):
    """A local `pretrained_file` is an input of training: a new file retrains."""
    path = MODELS[wildcards.model].get("pretrained_file")
    return [path] if path else []


def train_params(wildcards):
    """Training settings that determine the weights (loader workers are a knob, see train_workers)."""
    if MODELS[wildcards.model].get("sklearn"):
        return {}  # fitted once; the train settings do not apply (xaisim.classical)
    settings = RESOLVED["models"][wildcards.model]["train"]
    return {k: v for k, v in settings.items() if k != "num_workers"}


def train_seed(wildcards):
    """A replicate's own training seed (`seeds:`), else the global one."""
    return MODELS[wildcards.model].get("seed", config["seed"])


def train_workers(wildcards):
    return RESOLVED["models"][wildcards.model]["train"]["num_workers"]


def method_key(wildcards):
    return METHODS[wildcards.method]["method"]


def method_amp(wildcards):
    """AMP applies to forward-only methods only: for the others it changes nothing, so it is False."""
    return config["amp"] and RESOLVED["forward_only"][wildcards.method]


def method_params(wildcards):
    """The method's params, overridden by the model's own `methods.<name>` entry, defaults filled in."""
    return RESOLVED["models"][wildcards.model]["methods"][wildcards.method]


def explanation_files(wildcards):
    return expand(
        "results/explanations/{method}/{model}.safetensors",
        method=wildcards.method,
        model=MODELS,
    )


def similarity_settings(method):
    """The method entry's normalise/grid/metrics, checked, with defaults filled in."""
    return RESOLVED["similarity"][method]["settings"]


def similarity_paths(method):
    return RESOLVED["similarity"][method]["outputs"]


def similarity_params(method):
    """Everything that determines a method's similarity outputs."""
    keep = {"zero_maps", "bootstrap"}
    stage = {k: v for k, v in config["similarity"].items() if k in keep}
    settings = similarity_settings(method)
    if settings["grid"] == "input":
        stage["image_size"] = DATA["image_size"]
    return canonical(
        {**settings, **stage, "seed": config["seed"], "models": list(MODELS)}
    )


def metric_keys(method):
    """The registered metrics a method's similarity job runs."""
    return sorted(
        {metric for metric, _ in similarity_settings(method)["metrics"].values()}
    )


def method_metrics(method):
    return list(similarity_settings(method)["metrics"])


def cluster_settings():
    """The cluster section, defaults (the Louvain resolution grid too) filled in by the schema."""
    return canonical(config["cluster"])


FAMILIES = {name: family(entry) for name, entry in MODELS.items()}
FORMATS = config["figures"]["formats"]
CLUSTER_FIGURES = ["dendrogram", "linkages", "louvain", "heatmap", "embedding"]
IMAGE_CATEGORIES = (
    list(CATEGORIES) if config["figures"]["images"] == "auto" else ["selected"]
)


def cluster_keys():
    """method/metric/variant of every clustered matrix."""
    return [
        f"{method}/{metric}/{variant}"
        for method in METHODS
        for metric in method_metrics(method)
        for variant in RESOLVED["variants"]
    ]


def final_outputs():
    outputs = ["results/summary.md", "results/figures/explanations/selection.csv"]
    for method in METHODS:
        outputs += similarity_paths(method)
        outputs += expand(
            "results/figures/{method}/{metric}/{variant}/{figure}.png",
            method=method,
            metric=method_metrics(method),
            variant=RESOLVED["variants"],
            figure=CLUSTER_FIGURES,
        )
        outputs += expand(
            "results/figures/{method}/{metric}/histograms.png",
            method=method,
            metric=method_metrics(method),
        )
        if method in EXAMPLE_METHODS:
            outputs += [
                f"results/figures/{method}/top_similar.png",
                f"results/figures/{method}/class_scores.png",
            ]
    if EXAMPLE_METHODS:
        outputs.append("results/summary/identical_class.csv")
    return outputs + statistics_outputs()  # rules/statistics.smk
