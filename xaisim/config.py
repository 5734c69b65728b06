"""Config checks that a JSON schema cannot express, each failing with one line naming the field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import yaml


class ConfigError(ValueError):
    """A config problem, with the field and the fix in one line."""


def _where(path: Any) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".") or "(top level)"


def check_schema(config: dict[str, Any], schema_path: str | Path) -> None:
    """Validate against the schema; the most relevant violation becomes a one-line ConfigError."""
    schema = yaml.safe_load(Path(schema_path).read_text())
    error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(schema).iter_errors(config))
    if error is not None:
        raise ConfigError(f"config {_where(error.absolute_path)}: {error.message}")


def _unique(entries: list[dict[str, Any]], section: str) -> None:
    seen: set[str] = set()
    for i, entry in enumerate(entries):
        if entry["name"] in seen:
            raise ConfigError(f"config {section}[{i}].name: duplicate name {entry['name']!r}; names must be unique")
        seen.add(entry["name"])


def _check_params(registry: Any, name: str, params: dict[str, Any], where: str) -> None:
    try:
        registry.check_params(name, params, where)
    except ValueError as err:
        raise ConfigError(str(err)) from None


def _check_model(model: dict[str, Any], config: dict[str, Any], where: str) -> None:
    """One model entry: timm arch or scikit-learn estimator and its kwargs, weights, ``epochs: 0``."""
    from xaisim import classical
    from xaisim.models import check_arch

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
    """The ``statistics`` section with ``image_counts`` and ``sanity.images`` defaulted, checked against
    the explained images ``data.explain_images`` = N.

    Defaults: counts N/4, N/2, 3N/4 (at least 2, distinct); sanity images min(4, N).
    Cheap (no torch): the workflow calls it at every parse."""
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
    return {**stats, "image_counts": counts, "sanity": sanity}


def _check_merged_method_params(config: dict[str, Any], registry: Any) -> None:
    """Methods with a ``check_config(params, where, model, config)`` hook (rules that depend on the
    model or the data) see each model's merged parameters."""
    for i, method in enumerate(config["methods"]):
        if method["method"] not in registry.names():
            continue
        validate = getattr(registry.get(method["method"]), "check_config", None)
        if validate is None:
            continue
        for j, model in enumerate(config["models"]):
            own = model.get("methods", {}).get(method["name"])
            where = f"config models[{j}].methods.{method['name']}" if own else f"config methods[{i}].params"
            try:
                params = registry.check_params(method["method"], {**method.get("params", {}), **(own or {})}, where)
                validate(params, where, model, config)
            except ValueError as err:
                raise ConfigError(str(err)) from None


def check(config: dict[str, Any]) -> None:
    """Files exist, names unique, timm architectures, methods/metrics and their params known."""
    import timm.optim

    from xaisim.cluster import check_settings
    from xaisim.explain import METHODS
    from xaisim.similarity import METRICS
    from xaisim.similarity.settings import method_settings

    check_paths(config)
    for section in ("models", "methods", "metrics"):
        _unique(config[section], section)
    method_names = {m["name"]: m for m in config["methods"]}
    optimizers = set(timm.optim.list_optimizers())
    for i, model in enumerate(config["models"]):
        where = f"config models[{i}]"
        _check_model(model, config, where)
        for train in (config.get("train", {}), model.get("train", {})):
            if "optimizer" in train and train["optimizer"] not in optimizers:
                raise ConfigError(f"{where}: unknown optimizer {train['optimizer']!r}; see timm.optim.list_optimizers()")
        for name, params in model.get("methods", {}).items():
            if name not in method_names:
                raise ConfigError(f"{where}.methods.{name}: no method named {name!r} in methods: {sorted(method_names)}")
            _check_params(METHODS, method_names[name]["method"], params, f"{where}.methods.{name}")
    _check_merged_method_params(config, METHODS)
    for section, key, registry in (("methods", "method", METHODS), ("metrics", "metric", METRICS)):
        for i, m in enumerate(config[section]):
            if m[key] not in registry.names():
                raise ConfigError(f"config {section}[{i}].{key}: unknown {registry.kind} {m[key]!r}; known: {', '.join(registry.names())}")
            _check_params(registry, m[key], m.get("params", {}), f"config {section}[{i}].params")
    for i, m in enumerate(config["methods"]):
        try:
            method_settings(m, config["metrics"], f"config methods[{i}]")
        except ValueError as err:
            raise ConfigError(str(err)) from None
    statistics_settings(config)
    try:
        check_settings(config.get("cluster", {}), len(config["models"]))
    except ValueError as err:
        raise ConfigError(str(err)) from None


def check_paths(config: dict[str, Any]) -> None:
    """Files the config names exist (cheap; run on every parse, unlike the cached :func:`resolve`)."""
    for i, model in enumerate(config["models"]):
        if model.get("pretrained_file") and not Path(model["pretrained_file"]).is_file():
            raise ConfigError(f"config models[{i}].pretrained_file: {model['pretrained_file']} does not exist")
    data = config["data"]
    if data["source"] == "imagefolder":
        root = Path(data["path"])
        missing = [s for s in ("train", "val") if not (root / s).is_dir()]
        if missing:
            raise ConfigError(f"config data.path: {root} has no {'/ '.join(missing)}/ folder; it must hold train/ and val/ class folders")


def resolve(config: dict[str, Any]) -> dict[str, Any]:
    """:func:`check`, then what determines each model's and metric's results, with every default filled in.

    ``models.<name>``: ``spec`` (what builds the network), ``train`` (training settings) and
    ``methods.<method name>`` (the method's params with the model's overrides);
    ``similarity.<method name>``: the method's similarity settings (metrics with their params) and
    output files; ``forward_only.<method name>``: whether AMP may apply; ``variants``: the similarity variants. Called through
    :func:`xaisim.workflow.resolved_config` (cached), so the workflow never imports torch to get them.
    """
    from xaisim.explain import METHODS
    from xaisim.models import build_spec
    from xaisim.similarity.aggregate import VARIANTS, output_paths
    from xaisim.similarity.settings import method_settings
    from xaisim.train import settings

    check(config)
    models = {}
    for i, model in enumerate(config["models"]):
        methods = {}
        for m in config["methods"]:
            params = {**m.get("params", {}), **model.get("methods", {}).get(m["name"], {})}
            methods[m["name"]] = METHODS.check_params(m["method"], params, f"config models[{i}] / methods {m['name']}")
        spec = build_spec(model)
        models[model["name"]] = {"spec": spec, "train": settings(config["train"], model.get("train")), "methods": methods}
    forward_only = {m["name"]: bool(getattr(METHODS.get(m["method"]), "forward_only", False)) for m in config["methods"]}
    similarity = {}
    for i, m in enumerate(config["methods"]):
        found = method_settings(m, config["metrics"], f"config methods[{i}]")
        similarity[m["name"]] = {"settings": found, "outputs": output_paths(m["name"], list(found["metrics"]))}
    return {"models": models, "forward_only": forward_only, "similarity": similarity, "variants": list(VARIANTS)}
