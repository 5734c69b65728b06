# Helpers of rules/similarity.smk (its inputs, params and outputs).


def similarity_settings(method):
    """The method entry's normalise/grid/metrics, checked, with defaults filled in."""
    return RESOLVED["similarity"][method]["settings"]


def similarity_paths(method):
    """Every file the method's similarity job writes (xaisim.similarity.aggregate.output_paths)."""
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
