"""Config checks that a JSON schema cannot express, each failing with one line naming the field."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import jsonschema
import yaml


class ConfigError(ValueError):
    """A config problem, with the field and the fix in one line."""


def _where(path: Any) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".") or "(top level)"


def _nonfinite(value: Any, path: tuple = ()) -> tuple | None:
    """The path of the first NaN or infinite number in ``value`` (a schema's ranges let them pass)."""
    if isinstance(value, float) and not math.isfinite(value):
        return path
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, child in items:
        found = _nonfinite(child, (*path, key))
        if found is not None:
            return found
    return None


def check_schema(config: dict[str, Any], schema_path: str | Path) -> None:
    """Validate against the schema; the most relevant violation becomes a one-line ConfigError.
    No value may be NaN or infinite (YAML's ``.nan``/``.inf`` pass every range of a JSON schema)."""
    bad = _nonfinite(config)
    if bad is not None:
        raise ConfigError(f"config {_where(bad)}: {_get(config, bad)} is not a finite number; give a number")
    schema = yaml.safe_load(Path(schema_path).read_text())
    error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(schema).iter_errors(config))
    if error is not None:
        hint = f" ({error.schema['description']})" if error.validator == "pattern" and "description" in error.schema else ""
        raise ConfigError(f"config {_where(error.absolute_path)}: {error.message}{hint}")


def _get(config: Any, path: tuple) -> Any:
    for key in path:
        config = config[key]
    return config


def _unique(entries: list[dict[str, Any]], section: str) -> None:
    """Names are unique, also ignoring case: they name folders, which clash on case-insensitive file systems."""
    seen: dict[str, str] = {}
    for i, entry in enumerate(entries):
        other = seen.get(entry["name"].casefold())
        if other is not None:
            clash = "" if other == entry["name"] else f" (as {other!r}: names that differ only by case clash in results/)"
            raise ConfigError(f"config {section}[{i}].name: duplicate name {entry['name']!r}{clash}; names must be unique")
        seen[entry["name"].casefold()] = entry["name"]


def _check_params(registry: Any, name: str, params: dict[str, Any], where: str) -> dict[str, Any]:
    try:
        return registry.check_params(name, params, where)
    except ValueError as err:
        raise ConfigError(str(err)) from None


def _check_model(model: dict[str, Any], config: dict[str, Any], where: str) -> None:
    """One model entry: timm arch or scikit-learn estimator and its kwargs, weights, ``epochs: 0``."""
    from xaisim import classical
    from xaisim.models import build_spec, check_arch, probe

    if model.get("sklearn"):
        extra = [k for k in ("arch", "pretrained_file") if model.get(k)] + (["pretrained"] if model.get("pretrained") else [])
        if extra:
            raise ConfigError(f"{where}: a scikit-learn model takes no {'/'.join(extra)}; remove it or drop `sklearn`")
        try:
            classical.estimator(model["sklearn"], model.get("kwargs"))
        except ValueError as err:
            raise ConfigError(f"{where}.kwargs: {err}") from None
        return
    try:
        check_arch(model["arch"])
    except ValueError as err:
        raise ConfigError(f"{where}.arch: {err}") from None
    try:
        probe(build_spec(model), config["data"]["image_size"])
    except TypeError as err:
        raise ConfigError(f"{where}.kwargs: timm's {model['arch']} refuses them ({err}); see its constructor's arguments") from None
    except ValueError as err:
        raise ConfigError(f"{where}: {err}") from None
    epochs = {**config.get("train", {}), **model.get("train", {})}.get("epochs")
    if epochs == 0:
        if not (model.get("pretrained") or model.get("pretrained_file")):
            raise ConfigError(
                f"{where}.train.epochs: 0 explains a pretrained model as it is; set `pretrained: true` or "
                "`pretrained_file`, or train it (epochs >= 1)"
            )
        if config.get("explain", {}).get("target") == "label":
            raise ConfigError(
                f"{where}.train.epochs: 0 keeps the pretrained head's own classes, so explain.target: label "
                "names no class of it; use explain.target: pred"
            )


def expand_replicates(models: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Entries with ``seeds: [s, ...]`` become one entry per seed, named ``<name>-s<seed>``, with
    ``seed`` (its training seed) and ``replicate_of`` (the entry's name); others stay as they are.

    Runs on the schema-checked config before anything else reads the model list."""
    out = []
    for entry in models:
        if "seeds" not in entry:
            out.append(entry)
            continue
        base = {k: v for k, v in entry.items() if k != "seeds"}
        out += [{**base, "name": f"{entry['name']}-s{seed}", "seed": seed, "replicate_of": entry["name"]}
                for seed in entry["seeds"]]
    return out


def statistics_settings(config: dict[str, Any]) -> dict[str, Any]:
    """The schema-filled ``statistics`` section with the defaults and checks that depend on the data:
    ``image_counts``, ``sanity.images``, ``faithfulness.images``, ``random_logit.images``, ``cross_deletion.images`` and ``representation.neighbours`` against the explained
    images ``data.explain_images`` = N.

    Defaults: counts N/4, N/2, 3N/4 (at least 2, distinct); sanity images min(4, N); faithfulness and random-logit images min(8, N), cross-deletion images min(4, N); mutual-kNN
    ``representation.neighbours`` min(10, N - 1) (at most N - 1); every other default is the schema's. Cheap (no torch): the workflow calls it at every parse."""
    stats = dict(config.get("statistics", {}))
    n = config["data"]["explain_images"]
    counts = stats.get("image_counts") or sorted({c for c in (n // 4, n // 2, 3 * n // 4) if 2 <= c < n})
    too_many = [c for c in counts if c >= n]
    if too_many:
        raise ConfigError(
            f"config statistics.image_counts: {too_many} not below data.explain_images={n} (a subsample of all "
            "images only reorders them); lower them or raise data.explain_images"
        )
    sanity = dict(stats.get("sanity", {}))
    if sanity.get("images", 0) > n:
        raise ConfigError(
            f"config statistics.sanity.images: {sanity['images']} exceeds data.explain_images={n}; lower it"
        )
    sanity.setdefault("images", min(4, n))
    checks = {}
    for key, default in (("faithfulness", 8), ("random_logit", 8), ("cross_deletion", 4)):
        checks[key] = dict(stats.get(key, {}))
        if checks[key].get("images", 0) > n:
            raise ConfigError(
                f"config statistics.{key}.images: {checks[key]['images']} exceeds data.explain_images={n}; lower it"
            )
        checks[key].setdefault("images", min(default, n))
    representation = dict(stats.get("representation", {}))
    if "neighbours" in representation and representation["neighbours"] > n - 1:
        raise ConfigError(
            f"config statistics.representation.neighbours: {representation['neighbours']} exceeds the "
            f"data.explain_images - 1 = {n - 1} other images an image has; lower it"
        )
    representation.setdefault("neighbours", max(1, min(10, n - 1)))  # one image: undefined, with a warning
    return {**stats, "image_counts": counts, "sanity": sanity, **checks, "representation": representation}


def _check_method_params(config: dict[str, Any]) -> dict[str, dict[str, tuple[int, int]]]:
    """Every method's params as each model sees them (the method's, overridden by the model's own
    ``methods.<name>`` entry), and the rules that depend on the model or the data of the methods
    that declared a ``check_model`` (:mod:`xaisim.contract`); ``grid: native`` over maps whose
    native shapes (where ``check_model`` knows them) differ. Method name -> model -> native shape."""
    from xaisim.driver import registry

    native = {}
    for i, method in enumerate(config["methods"]):
        key = method["method"]
        reg = registry(key)
        check_model = reg.info(key)["check_model"]
        shapes = {}
        for j, model in enumerate(config["models"]):
            own = model.get("methods", {}).get(method["name"])
            where = f"config models[{j}].methods.{method['name']}" if own else f"config methods[{i}].params"
            params = _check_params(reg, key, {**method.get("params", {}), **(own or {})}, where)
            if check_model is not None:
                try:
                    shape = check_model(params, model, config)
                except ValueError as err:
                    raise ConfigError(f"{where}: {err} for {reg.kind} {key!r}") from None
                if shape is not None:
                    shapes[model["name"]] = tuple(shape)
        if method.get("grid") == "native" and len(set(shapes.values())) > 1:
            got = ", ".join(f"{name} {hw}" for name, hw in shapes.items())
            raise ConfigError(f"config methods[{i}].grid: native needs maps of one shape, got {got}; "
                              "choose grid input, coarsest or a size")
        native[method["name"]] = shapes
    return native


def check(config: dict[str, Any]) -> None:
    """Files exist, names unique, timm architectures, methods/metrics and their params known."""
    import timm.optim

    from xaisim.cluster import check_settings
    from xaisim.driver import registry
    from xaisim.paths import EVIDENCE
    from xaisim.similarity import METRICS
    from xaisim.similarity.settings import method_settings

    check_paths(config)
    for section in ("models", "methods", "metrics"):
        _unique(config[section], section)
    for i, m in enumerate(config["methods"]):
        try:
            registry(m["method"])
        except KeyError as err:
            raise ConfigError(f"config methods[{i}].method: {err.args[0]}") from None
    for i, m in enumerate(config["metrics"]):
        if m["name"] == EVIDENCE:
            raise ConfigError(f"config metrics[{i}].name: {EVIDENCE!r} names the cross-model deletion clusters "
                              f"(results/clusters/<method>/{EVIDENCE}/); rename the metric")
        if m["metric"] not in METRICS.names():
            raise ConfigError(f"config metrics[{i}].metric: unknown {METRICS.kind} {m['metric']!r}; known: {', '.join(METRICS.names())}")
    method_names = {m["name"]: m for m in config["methods"]}
    optimizers = set(timm.optim.list_optimizers())
    for i, model in enumerate(config["models"]):
        where = f"config models[{i}]"
        _check_model(model, config, where)
        for train in (config.get("train", {}), model.get("train", {})):
            if "optimizer" in train and train["optimizer"] not in optimizers:
                raise ConfigError(f"{where}: unknown optimizer {train['optimizer']!r}; see timm.optim.list_optimizers()")
        for name in model.get("methods", {}):
            if name not in method_names:
                raise ConfigError(f"{where}.methods.{name}: no method named {name!r} in methods: {sorted(method_names)}")
    native = _check_method_params(config)
    for i, m in enumerate(config["metrics"]):
        _check_params(METRICS, m["metric"], m.get("params", {}), f"config metrics[{i}].params")
    for i, m in enumerate(config["methods"]):
        try:
            method_settings(m, config["metrics"], f"config methods[{i}]", config["data"]["image_size"],
                            list(native[m["name"]].values()))
        except ValueError as err:
            raise ConfigError(str(err)) from None
    statistics_settings(config)
    try:
        check_settings(config.get("cluster", {}), len(config["models"]))
    except ValueError as err:
        raise ConfigError(str(err)) from None


def _shown(path: str | Path) -> str:
    """``path``, and for a relative one the folder it is resolved against (Snakemake's working directory)."""
    path = Path(path)
    return str(path) if path.is_absolute() else f"{path} (relative to the working directory {Path.cwd()}, Snakemake's -d)"


def check_paths(config: dict[str, Any]) -> None:
    """Files the config names exist (cheap; run on every parse, unlike the cached :func:`resolve`)."""
    for i, model in enumerate(config["models"]):
        if model.get("pretrained_file") and not Path(model["pretrained_file"]).is_file():
            raise ConfigError(f"config models[{i}].pretrained_file: {_shown(model['pretrained_file'])} does not exist")
    data = config["data"]
    if data["source"] == "imagefolder":
        root = Path(data["path"])
        missing = [s for s in ("train", "val") if not (root / s).is_dir()]
        if missing:
            raise ConfigError(f"config data.path: {_shown(root)} has no {'/ '.join(missing)}/ folder; it must hold "
                              "train/ and val/ class folders")


def resolve(config: dict[str, Any]) -> dict[str, Any]:
    """:func:`check`, then what determines each model's and metric's results, with every default filled in.

    ``models.<name>``: ``spec`` (what builds the network), ``train`` (training settings) and
    ``methods.<method name>`` (the method's params with the model's overrides);
    ``methods.<method name>``: ``examples`` (an example-based method, :mod:`xaisim.examples`) and
    ``needs`` (what it declared, :class:`xaisim.contract.Needs`: gradients, train_split, evals);
    ``similarity.<method name>``: the method's similarity settings (metrics with their params) and
    output files; ``variants``: the similarity variants;
    ``statistics``: every registered statistic's declaration (:func:`xaisim.statistics.declarations`). Called through
    :func:`xaisim.workflow.resolved_config` (cached), so the workflow never imports torch to get them.
    """
    from dataclasses import asdict

    from xaisim.driver import needs, registry
    from xaisim.examples import EXAMPLE_METHODS
    from xaisim.models import build_spec
    from xaisim.similarity.aggregate import VARIANTS, output_paths
    from xaisim.similarity.settings import method_settings
    from xaisim.statistics import declarations
    from xaisim.train import settings

    check(config)
    models = {}
    for i, model in enumerate(config["models"]):
        methods = {}
        for m in config["methods"]:
            params = {**m.get("params", {}), **model.get("methods", {}).get(m["name"], {})}
            methods[m["name"]] = registry(m["method"]).check_params(m["method"], params, f"config models[{i}] / methods {m['name']}")
        spec = build_spec(model)
        models[model["name"]] = {"spec": spec, "train": settings(config["train"], model.get("train")), "methods": methods}
    methods = {m["name"]: {"examples": registry(m["method"]) is EXAMPLE_METHODS, "needs": asdict(needs(m["method"]))}
               for m in config["methods"]}
    similarity = {}
    for i, m in enumerate(config["methods"]):
        found = method_settings(m, config["metrics"], f"config methods[{i}]")
        similarity[m["name"]] = {"settings": found, "outputs": output_paths(m["name"], list(found["metrics"]))}
    return {"models": models, "methods": methods, "similarity": similarity, "variants": list(VARIANTS),
            "statistics": declarations()}
