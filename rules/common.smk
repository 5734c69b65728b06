import re
from pathlib import Path
from urllib.parse import urlparse

from snakemake.utils import validate

from xaisim.config import check, check_schema
from xaisim.models import build_spec
from xaisim.similarity.aggregate import VARIANTS
from xaisim.similarity.aggregate import output_paths as similarity_paths
from xaisim.similarity.settings import method_settings
from xaisim.train import settings as train_settings

SCHEMA = Path(workflow.basedir) / "schemas" / "config.schema.yaml"
check_schema(config, SCHEMA)  # one-line messages for the common mistakes
validate(config, "../schemas/config.schema.yaml")  # fills in the schema's defaults
check(config)

MODELS = {m["name"]: m for m in config["models"]}
METHODS = {m["name"]: m for m in config["methods"]}
METRICS = {m["name"]: m for m in config["metrics"]}
DATA = config["data"]


def _one_of(names):
    return "|".join(re.escape(n) for n in names)


wildcard_constraints:
    model=_one_of(MODELS),
    method=_one_of(METHODS),
    metric=_one_of(METRICS),
    variant=_one_of(VARIANTS),


def canonical(value):
    """Dicts with sorted keys, recursively: params compare by repr, so key order must not matter."""
    if isinstance(value, dict):
        return {k: canonical(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [canonical(v) for v in value]
    return value


def resources(rule, **defaults):
    """Snakemake resources of a rule: built-in defaults, overridden by config `resources.<rule>`."""
    return {**defaults, **config["resources"].get(rule, {})}


def archive_name():
    return Path(urlparse(DATA["url"]).path).name


def data_inputs(wildcards):
    return [f"resources/{archive_name()}"] if DATA["source"] == "url" else []


def data_params():
    """The data slice that determines the index (not the explained subset)."""
    keep = {"source", "image_size", "val_fraction", "path", "url", "subdir"}
    return canonical({k: v for k, v in DATA.items() if k in keep})


def model_spec(wildcards):
    return canonical(build_spec(MODELS[wildcards.model]))


def train_params(wildcards):
    return canonical(
        train_settings(config["train"], MODELS[wildcards.model].get("train"))
    )


def method_key(wildcards):
    return METHODS[wildcards.method]["method"]


def method_params(wildcards):
    """The method's params, overridden by the model's own `methods.<name>` entry."""
    own = MODELS[wildcards.model].get("methods", {}).get(wildcards.method, {})
    return canonical({**METHODS[wildcards.method].get("params", {}), **own})


def metric_key(wildcards):
    return METRICS[wildcards.metric]["metric"]


def metric_params(wildcards):
    return canonical(METRICS[wildcards.metric].get("params", {}))


def explanation_files(wildcards):
    return expand(
        "results/explanations/{method}/{model}.safetensors",
        method=wildcards.method,
        model=MODELS,
    )


def similarity_settings(method):
    """The method entry's normalise/grid/metrics, checked, with defaults filled in."""
    i = list(METHODS).index(method)
    return canonical(
        method_settings(METHODS[method], config["metrics"], f"config methods[{i}]")
    )


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


def method_metrics(method):
    return list(similarity_settings(method)["metrics"])


def final_outputs():
    outputs = ["results/summary/accuracy.csv"]
    for method in METHODS:
        outputs += similarity_paths(
            "results/similarity", method, method_metrics(method)
        )
        outputs += expand(
            "results/figures/{method}/{metric}/all/{figure}.png",
            method=method,
            metric=method_metrics(method),
            figure=["dendrogram", "louvain", "heatmap"],
        )
        outputs.append(f"results/figures/{method}/examples.png")
    return outputs
