"""Study shapes unlike the quickstart: the whole workflow completes, and what it cannot compute is NaN,
empty or said in words, with a warning in the job's log.

Each shape runs the real CLI on a copy of the shared tiny run (times kept), so the trained models are
reused and only what the shape changes runs."""

import shutil

import pandas as pd
import pytest
import yaml
from test_workflow import TINY, snakemake

from xaisim.io import read_matrix


def _tiny(**changes) -> dict:
    config = yaml.safe_load(yaml.safe_dump(TINY))
    for key, value in changes.items():
        section, _, field = key.rpartition(".")
        (config[section] if section else config)[field] = value
    return config


def _logs(work, *parts) -> str:
    return "\n".join(p.read_text() for p in (work / "results/logs").joinpath(*parts[:-1]).glob(parts[-1]))


def _outcomes(work) -> set[tuple[str, str, str]]:
    frame = pd.read_csv(work / "results/summary/outcomes.csv")
    return set(zip(frame["method"], frame["model"], frame["outcome"]))


def one_model_and_a_method_that_explains_none(work):
    summary = (work / "results/summary.md").read_text()
    assert "No matrix has the models a clustering needs: nothing to cluster." in summary
    assert read_matrix(work / "results/similarity/rollout/cosine/all/distance.csv").shape == (0, 0)
    assert "no model supports this method; its matrices are empty" in _logs(work, "similarity", "rollout.log")
    assert ("rollout", "resnet", "not supported") in _outcomes(work)
    assert "cannot reject: smallest attainable p 0.25" in summary  # 2 images: 2^2 sign flips
    assert pd.read_csv(work / "results/statistics/image_count.csv").empty


def one_image_one_family_and_a_method_for_one_model(work):
    subset = pd.read_csv(work / "results/data/explain.csv")
    assert len(subset) == 1
    assert "is below the 10 classes: one image each of the seeded classes" in _logs(work, "explain_subset.log")
    separation = pd.read_csv(work / "results/statistics/family_separation.csv")
    assert separation["p"].isna().all() and (separation["families"] == 1).all()
    assert "all models belong to one family" in _logs(work, "statistics", "family_separation.log")
    assert "1 images have fewer than k=1 other images" in _logs(work, "statistics", "*.log")
    assert ("lrp", "vit", "not supported") in _outcomes(work) and ("lrp", "resnet", "explained") in _outcomes(work)
    faithfulness = pd.read_csv(work / "results/statistics/faithfulness.csv")
    assert faithfulness["deletion_p"].isna().all()  # one image: no test
    assert "faithfulness test is undefined: 1 usable image(s)" in _logs(work, "statistics", "faithfulness", "*.log")


def only_scikit_learn_models(work):
    outcomes = _outcomes(work)
    assert {model for _, model, _ in outcomes} == {"svc", "logreg"}
    assert ("gradcam", "svc", "not supported") in outcomes and ("kernelshap", "svc", "explained") in outcomes
    distance = read_matrix(work / "results/similarity/kernelshap/cosine/all/distance.csv")
    assert list(distance.index) == ["svc", "logreg"] and distance.notna().all().all()
    assert (work / "results/summary.md").is_file()


SHAPES = {
    one_model_and_a_method_that_explains_none: _tiny(
        models=TINY["models"][:1], **{"data.explain_images": 2},
        methods=[*TINY["methods"], {"name": "rollout", "method": "attention_rollout"}]),
    one_image_one_family_and_a_method_for_one_model: _tiny(
        models=[TINY["models"][0], {**TINY["models"][1], "family": "cnn"}], **{"data.explain_images": 1},
        methods=[*TINY["methods"], {"name": "lrp", "method": "lrp_epsilon_sign"}]),
    only_scikit_learn_models: _tiny(models=[{"name": "svc", "sklearn": "svc"}, {"name": "logreg", "sklearn": "logreg"}]),
}


@pytest.mark.parametrize("check", SHAPES, ids=lambda f: f.__name__)
def test_the_study_completes_and_says_what_it_cannot_compute(run, tmp_path, check):
    work = tmp_path / "work"
    shutil.copytree(run, work, symlinks=True)
    configfile = tmp_path / "shape.yaml"
    configfile.write_text(yaml.safe_dump(SHAPES[check]))
    snakemake(work, configfile=configfile)
    check(work)
