import copy
import re

import pytest
import yaml

from xaisim.config import ConfigError, check, check_schema, expand_replicates


@pytest.fixture
def tiny(repo):
    return yaml.safe_load((repo / "configs" / "tiny.yaml").read_text())


@pytest.fixture
def schema(repo):
    return repo / "schemas" / "config.schema.yaml"


@pytest.mark.parametrize("name", ["config.yaml", "configs/tiny.yaml", "configs/imagenette2.yaml"])
def test_shipped_configs_are_valid(repo, schema, name):
    config = yaml.safe_load((repo / name).read_text())
    check_schema(config, schema)
    check(config)


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda c: c.update(epochs=3), r"config \(top level\): Additional properties are not allowed \('epochs'"),
        (lambda c: c["train"].update(epochs="3"), r"config train.epochs: '3' is not of type 'integer'"),
        (lambda c: c["models"][0].update(archh="x"), r"config models\[0\]: Additional properties"),
        (lambda c: c["data"].update(source="ftp"), r"config data.source: 'ftp' is not one of"),
        (lambda c: c["data"].update(source="url"), r"config data: 'url' is a required property"),
        (lambda c: c.update(cluster={"k": 0}), r"config cluster.k: 0 is less than the minimum of 1"),
        (lambda c: c.update(statistics={"bootstrap": 10**7}), r"config statistics.bootstrap: 10000000 is greater than the maximum of 100000"),
        (lambda c: c.update(figures={"formats": ["gif"]}), r"config figures.formats\[0\]: 'gif' is not one of"),
        (lambda c: c.update(statistics={"permutations": 0}), r"config statistics.permutations: 0 is less than the minimum of 1"),
        (lambda c: c.update(statistics={"sanity": {"depths": [0.5, 1.5]}}), r"config statistics.sanity.depths\[1\]: 1.5 is greater"),
        (lambda c: c.update(statistics={"faithfulness": {"steps": 1}}), r"config statistics.faithfulness.steps: 1 is less than the minimum of 2"),
        (lambda c: c.update(statistics={"faithfulness": {"baseline": "mean"}}), r"config statistics.faithfulness.baseline: 'mean' is not one of"),
        (lambda c: c["models"][0].update(seeds=[1, 1]), r"config models\[0\].seeds: \[1, 1\] has non-unique elements"),
        (lambda c: c["models"][0].update(family="rnn"), r"config models\[0\].family: 'rnn' is not one of \['cnn', 'transformer'"),
        (lambda c: c["train"].update(lr=float("inf")), r"config train.lr: inf is not a finite number"),
        (lambda c: c.update(cluster={"graph": "ring"}), r"config cluster.graph: 'ring' is not one of \['knn', 'complete'\]"),
        (lambda c: c.update(cluster={"resolution": 0}), r"config cluster.resolution: 0 is less than or equal to the minimum of 0"),
        (lambda c: c.update(cluster={"neighbours": 0}), r"config cluster.neighbours: 0 is less than the minimum of 1"),
        (lambda c: c.update(cluster={"null_draws": 5}), r"config cluster.null_draws: 5 is less than the minimum of 19"),
        (lambda c: c["train"].update(label_smoothing=float("nan")), r"config train.label_smoothing: nan is not a finite number"),
        (lambda c: c["train"].update(augment={"hflip": float("nan")}), r"config train.augment.hflip: nan is not a finite"),
        (lambda c: c["metrics"][1]["params"].update(sigma=float("inf")), r"config metrics\[1\].params.sigma: inf is not a finite"),
        (lambda c: c["explain"].update(memory_mb=0), r"config explain.memory_mb: 0 is less than or equal to the minimum of 0"),
        (lambda c: c["explain"].update(memory_mb="lots"), r"config explain.memory_mb: 'lots' is not of type 'number'"),
        (lambda c: c["explain"].update(eval_batch_size="max"), r"config explain.eval_batch_size: 'max' is not valid"),
        *[(lambda c, n=name: c["models"][0].update(name=n), rf"config models\[0\].name: '{re.escape(name)}' does not match .* "
           r"\(names a folder in results/: ASCII letters, digits") for name in ("a/b", "../x", "..", "ré", "a b", "/abs")],
        (lambda c: c["methods"][0].update(name="x/y"), r"config methods\[0\].name: 'x/y' does not match"),
    ],
)
def test_schema_errors_are_one_line_and_name_the_field(tiny, schema, edit, message):
    edit(tiny)
    with pytest.raises(ConfigError, match=message) as err:
        check_schema(tiny, schema)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda c: c["models"][1].update(name="resnet"), r"models\[1\].name: duplicate name 'resnet'; names"),
        (lambda c: c["models"][1].update(name="ResNet"), r"models\[1\].name: duplicate name 'ResNet' \(as 'resnet': names that differ only by case"),
        (lambda c: c["models"][0].update(arch="resnet19"), r"models\[0\].arch: unknown timm architecture 'resnet19'"),
        (lambda c: c["models"][0].update(pretrained_file="/no/such.safetensors"), r"models\[0\].pretrained_file: /no/such"),
        (lambda c: c["methods"][1]["params"].update(steps=3), r"methods\[1\].params: unknown parameter\(s\) \['steps'\]"),
        (lambda c: c["methods"][0].update(method="gradcam++"), r"methods\[0\].method: unknown explanation method 'gradcam\+\+'"),
        (lambda c: c["metrics"][0].update(metric="ssimm"), r"metrics\[0\].metric: unknown similarity metric 'ssimm'"),
        (lambda c: c["models"][0].update(methods={"nope": {}}), r"models\[0\].methods.nope: no method named 'nope'"),
        (lambda c: c["models"][0].update(methods={"gradcam": {"deep": 1}}), r"models\[0\].methods.gradcam: unknown parameter"),
        (lambda c: c["models"][0].update(methods={"gradcam": {"depth": 1.5}}), r"models\[0\].methods.gradcam.depth: Input should be less than or equal to 1"),
        (lambda c: c["models"][0].update(methods={"gradcam": {"depth": 0.5, "layer": "layer4"}}), r"models\[0\].methods.gradcam: layer=.layer4. and depth=0.5 exclude each other"),
        (lambda c: c["train"].update(optimizer="adamz"), r"unknown optimizer 'adamz'"),
        (lambda c: c["models"][1]["kwargs"].pop("img_size"), r"models\[1\]: vit_tiny_patch16_224 does not take 32x32 inputs \(Input height \(32\) doesn't match model \(224\)"),
        (lambda c: c["models"][1]["kwargs"].update(patch_sz=4), r"models\[1\].kwargs: timm's vit_tiny_patch16_224 refuses them \(.*unexpected keyword argument 'patch_sz'"),
        (lambda c: c["models"][0].update(methods={"gradcam": {"layer": "layer9"}}), r"models\[0\].methods.gradcam: unknown layer 'layer9' for ResNet"),
        (lambda c: c["models"][0].update(methods={"gradcam": {"fill_cells": [[0, 4]]}}), r"models\[0\].methods.gradcam: fill_cells entry \[0, 4\] lies outside the layer's 4x4 grid"),
        (lambda c: (c["methods"][0].update(grid="native"), c["models"][0].update(methods={"gradcam": {"depth": 0.25}})),
         r"methods\[0\].grid: native needs maps of one shape, got resnet \(8, 8\), vit \(4, 4\); choose grid input"),
        (lambda c: c["methods"][1]["params"].update(n_steps=0), r"methods\[1\].params.n_steps: Input should be greater than or equal to 1"),
        (lambda c: c["methods"][1]["params"].update(n_steps=10**6), r"methods\[1\].params.n_steps: Input should be less than or equal to 10000"),
        (lambda c: c["methods"][2]["params"].update(n_samples=10**7), r"methods\[2\].params.n_samples: Input should be less than or equal to 100000"),
        (lambda c: c["methods"][0].update(grid=10**5), r"methods\[0\].grid: grid must be one of input, coarsest, native or a size in \[1, 4096\]"),
        (lambda c: c["metrics"][1]["params"].update(sigma=-1), r"metrics\[1\].params.sigma: Input should be greater than 0"),
        (lambda c: c["metrics"][1].update(name="cross_deletion"), r"metrics\[1\].name: 'cross_deletion' names the cross-model deletion clusters"),
        (lambda c: c["data"].update(source="imagefolder", path="/no/where"), r"data.path: /no/where has no train/ val/"),
        (lambda c: c["data"].update(source="imagefolder", path="no/where"),
         r"data.path: no/where \(relative to the working directory /.*, Snakemake's -d\) has no train/ val/"),
        (lambda c: c["models"][0].update(pretrained_file="w.safetensors"),
         r"models\[0\].pretrained_file: w.safetensors \(relative to the working directory /.*\) does not exist"),
        (lambda c: c.update(cluster={"linkage": "ward"}), r"cluster.linkage: 'ward' is defined only for Euclidean"),
        (lambda c: c.update(cluster={"k": 2}), r"cluster.k: 2 clusters need more than 2 models; lower it below 2 or use auto"),
        (lambda c: c.update(cluster={"neighbours": 3}), r"cluster.neighbours: 3 neighbours need more than 2 models"),
        (lambda c: c.update(statistics={"sanity": {"images": 11}}), r"statistics.sanity.images: 11 exceeds data.explain_images=10"),
        (lambda c: c.update(statistics={"faithfulness": {"images": 11}}), r"statistics.faithfulness.images: 11 exceeds data.explain_images=10"),
        (lambda c: c.update(statistics={"image_counts": [4, 10]}), r"statistics.image_counts: \[10\] not below data.explain_images=10"),
    ],
)
def test_semantic_errors_name_the_field(tiny, edit, message):
    config = copy.deepcopy(tiny)
    edit(config)
    with pytest.raises(ConfigError, match=message) as err:
        check(config)
    assert "\n" not in str(err.value)


def test_seeds_expand_to_replicates_with_their_own_training_seed(tiny):
    tiny["models"][0]["seeds"] = [0, 3]
    models = expand_replicates(tiny["models"])
    assert [m["name"] for m in models] == ["resnet-s0", "resnet-s3", "vit"]
    assert [m.get("seed") for m in models] == [0, 3, None] and models[1]["replicate_of"] == "resnet"
    assert models[1]["arch"] == tiny["models"][0]["arch"] and "seeds" not in models[1]
    tiny["models"][1]["name"] = "resnet-s3"
    with pytest.raises(ConfigError, match=r"models\[2\].name: duplicate name 'resnet-s3'"):
        check({**tiny, "models": expand_replicates(tiny["models"])})


def test_statistics_defaults_follow_the_explained_images(tiny):
    from xaisim.config import statistics_settings

    assert statistics_settings(tiny)["image_counts"] == [2, 5, 7]
    assert statistics_settings(tiny)["sanity"]["images"] == 4
    tiny["data"]["explain_images"] = 3
    small = statistics_settings(tiny)
    assert small["image_counts"] == [2] and small["sanity"]["images"] == 3
    assert statistics_settings(tiny)["faithfulness"]["images"] == 3


def test_resolve_says_what_each_method_needs(tiny, schema):
    """The workflow reads a method's kind and needs from here (rules/explain.smk), never its name."""
    from snakemake.utils import validate

    from xaisim.config import resolve

    validate(tiny, str(schema))  # fills in the schema's defaults, as the Snakefile does
    methods = resolve(tiny)["methods"]
    assert methods["gradcam"] == {"examples": False, "needs": {"gradients": True, "train_split": False, "evals": False}}
    assert methods["ig"]["needs"] == {"gradients": True, "train_split": False, "evals": True}
    assert methods["kernelshap"]["needs"] == {"gradients": False, "train_split": False, "evals": True}  # AMP may apply
    assert methods["gradsim"] == {"examples": True, "needs": {"gradients": True, "train_split": True, "evals": False}}
