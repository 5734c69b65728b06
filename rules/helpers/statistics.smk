# Helpers of rules/statistics.smk: each registered statistic's inputs, outputs, params and figures
# from its declaration (xaisim.statistics), which the cached resolved config holds.
from xaisim.config import statistics_settings

STATS = statistics_settings(config)  # image counts and sanity images defaulted, checked
STATISTICS = RESOLVED["statistics"]


def setting(key):
    """A `statistics` setting by its dotted key (`sanity.images`)."""
    value = STATS
    for part in key.split("."):
        value = value[part]
    return value


def statistic_table(table):
    return P.fill(P.STATISTIC, table=table)


def similarity_files(kind):
    """The `kind` (mean, distance, ...) matrix of every explanation, in cluster_keys() order."""
    return [
        P.fill(
            P.MATRIX,
            stat=kind,
            **dict(zip(("method", "metric", "variant"), key.split("/"))),
        )
        for key in cluster_keys()
    ]


def method_metric_keys():
    return [f"{m}/{k}" for m in METHODS for k in method_metrics(m)]


def replicates():
    """Replicate name -> its entry's name (models from `seeds:`)."""
    return {n: m["replicate_of"] for n, m in MODELS.items() if "replicate_of" in m}


def map_method_params():
    """Per map method: its registered key and each model's params (overrides, defaults filled in)."""
    return {
        method: {
            "method": METHODS[method]["method"],
            "params": {m: RESOLVED["models"][m]["methods"][method] for m in MODELS},
        }
        for method in MAP_METHODS
    }


# the files of each kind a statistic reads (xaisim.statistics.INPUTS)
STATISTIC_INPUTS = {
    "index": lambda: P.INDEX,
    "subset": lambda: P.SUBSET,
    "predictions": lambda: expand(P.PREDICTIONS, model=MODELS),
    "features": lambda: expand(P.FEATURES, model=MODELS),
    "weights": lambda: expand(P.WEIGHTS, model=MODELS),
    "mean": lambda: similarity_files("mean"),
    "distance": lambda: similarity_files("distance"),
    "per_image": lambda: [
        P.fill(P.PER_IMAGE, **dict(zip(("method", "metric"), key.split("/"))))
        for key in method_metric_keys()
    ],
    "maps": lambda: expand(P.EXPLANATION, method=MAP_METHODS, model=MODELS),
}
# the values a statistic takes besides its settings (xaisim.statistics.CONTEXT)
STATISTIC_CONTEXT = {
    "models": lambda: list(MODELS),
    "explanations": cluster_keys,
    "matrices": method_metric_keys,
    "families": lambda: FAMILIES,
    "replicate_of": replicates,
    "cluster": cluster_settings,
    "specs": lambda: {model: RESOLVED["models"][model]["spec"] for model in MODELS},
    "map_methods": map_method_params,
    "image_size": lambda: DATA["image_size"],
}
# what a figure is drawn over (xaisim.statistics.OVER): its items, "" for a single figure
FIGURE_ITEMS = {
    "once": lambda: [""],
    "matrices": method_metric_keys,
    "map_methods": lambda: MAP_METHODS,
}


def enabled(name):
    """Its `enabled` setting (if it has one) is true and every context it requires is non-empty."""
    d = STATISTICS[name]
    on = d["enabled"] is None or setting(d["enabled"])
    return on and all(STATISTIC_CONTEXT[c]() for c in d["requires"])


def running():
    """The enabled statistics whose tables to read are all written (by running statistics)."""
    names = [name for name in STATISTICS if enabled(name)]
    while True:
        written = {t for n in names for t in STATISTICS[n]["writes"].values()}
        readable = written | set(STATISTIC_INPUTS)
        kept = [n for n in names if set(STATISTICS[n]["reads"].values()) <= readable]
        if kept == names:
            return names
        names = kept


ACTIVE = running()


def statistic_inputs(name):
    """Input name -> the files of its kind, or the path of another statistic's table; an
    optional table only where a running statistic writes it."""
    reads = STATISTICS[name]["reads"].items()
    written = set(statistics_tables())
    optional = {
        key: statistic_table(table)
        for key, table in STATISTICS[name]["optional"].items()
        if table in written
    }
    return {
        **{
            key: (
                STATISTIC_INPUTS[kind]()
                if kind in STATISTIC_INPUTS
                else statistic_table(kind)
            )
            for key, kind in reads
        },
        **optional,
    }


def statistic_outputs(name):
    """Output name -> its table, marked for the report where the statistic labels it."""
    d = STATISTICS[name]
    outputs = {key: statistic_table(table) for key, table in d["writes"].items()}
    for key, label in d["report"].items():
        outputs[key] = report(
            outputs[key],
            caption="../report/statistics_tables.rst",
            category="5 Statistics",
            subcategory="tables",
            labels={"table": label},
        )
    return outputs


def statistic_params(name):
    """Its settings (by their last key part) and context values: what determines its tables."""
    d = STATISTICS[name]
    params = {key.split(".")[-1]: setting(key) for key in d["settings"]}
    return {**params, **{c: STATISTIC_CONTEXT[c]() for c in d["context"]}}


def statistic_code(name):
    """The generic script's and the statistic module's code (with the methods a re-explaining one runs)."""
    reexplains = "map_methods" in STATISTICS[name]["context"]
    methods = sorted({METHODS[m]["method"] for m in MAP_METHODS}) if reexplains else []
    return code("scripts/statistic.py") + code(STATISTICS[name]["source"], *methods)


# a per-model statistic's part job: the files of its model ({model} left a wildcard) and its context for that model
PART_INPUTS = {  # lists, as for every model: the statistic reads them the same way
    "predictions": lambda: [P.PREDICTIONS],
    "features": lambda: [P.FEATURES],
    "weights": lambda: [P.WEIGHTS],
    "maps": lambda: [P.fill(P.EXPLANATION, method=m) for m in MAP_METHODS],
}
PART_CONTEXT = {
    "specs": lambda w: {w.model: RESOLVED["models"][w.model]["spec"]},
    "map_methods": lambda w: {
        method: {"method": m["method"], "params": {w.model: m["params"][w.model]}}
        for method, m in map_method_params().items()
    },
    "image_size": lambda w: DATA["image_size"],
}


def per_model():
    """The running statistics that run one job per model (unless `statistics.per_model: false`)."""
    if not STATS["per_model"]:
        return []
    return [name for name in ACTIVE if STATISTICS[name]["per_model"]]


def part_table(name, table, model="{model}"):
    return P.fill(P.STATISTIC_PART, statistic=name, table=table, model=model)


def part_inputs(name):
    """A part job's inputs: its model's files of each kind it reads (the index and subset as they are)."""
    return {
        key: PART_INPUTS[kind]() if kind in PART_INPUTS else STATISTIC_INPUTS[kind]()
        for key, kind in STATISTICS[name]["reads"].items()
    }


def part_outputs(name):
    return {
        key: part_table(name, table)
        for key, table in STATISTICS[name]["writes"].items()
    }


def part_params(name):
    """Its settings and its context for the job's model alone: adding a model reruns no other model's part."""
    d = STATISTICS[name]
    params = {key.split(".")[-1]: setting(key) for key in d["settings"]}
    return {**params, **{c: PART_CONTEXT[c] for c in d["context"]}}


def gathered_parts(name):
    """Output name -> every model's part of that table, in model order."""
    return {
        key: [part_table(name, table, model) for model in MODELS]
        for key, table in STATISTICS[name]["writes"].items()
    }


def statistic_resources(name):
    """A statistic's resources; a torch statistic's device and evaluation budget are performance
    knobs (resources, not params), its mem_mb follows explain.memory_mb."""
    d = STATISTICS[name]
    own = dict(d["resources"])
    if d["torch"]:
        own.update(
            device=config["device"],
            eval_batch_size=config["explain"]["eval_batch_size"],
            eval_memory_mb=config["explain"]["memory_mb"],
            mem_mb=config["explain"]["memory_mb"] + JOB_OVERHEAD_MB,
        )
    return resources(name, gpu=d["gpu"], **own)


def statistics_tables():
    """Every table the running statistics write, by name."""
    return [t for name in ACTIVE for t in STATISTICS[name]["writes"].values()]


def statistics_figures():
    """Every figure of the running statistics: `<figure>[/<item>]` -> PNG."""
    names = [
        f"{figure}/{item}" if item else figure
        for name in ACTIVE
        for figure, over in STATISTICS[name]["figures"].items()
        for item in FIGURE_ITEMS[over]()
    ]
    return {name: P.fill(P.STATISTICS_FIGURE, figure=name) for name in names}


def statistics_outputs():
    return [statistic_table(t) for t in statistics_tables()] + list(
        statistics_figures().values()
    )


def trust_tables():
    """The tables of the summary's trust section that running statistics write, by input name."""
    names = {
        "faithfulness": "faithfulness",
        "random_logit": "random_logit",
        "complexity": "complexity",
        "cross_deletion_normalised": "cross_deletion/normalised",
    }
    return {
        key: statistic_table(table)
        for key, table in names.items()
        if table in statistics_tables()
    }
