"""The real snakemake CLI on configs/tiny.yaml in a temporary folder, and dry runs of the presets."""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from xaisim.io import ArrayFile, read_matrix

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).parent / "snakemake")
TINY = yaml.safe_load((REPO / "configs" / "tiny.yaml").read_text())


def snakemake(workdir: Path, *args: str, configfile: Path = REPO / "configs" / "tiny.yaml", check: bool = True):
    cmd = [SNAKEMAKE, "-s", str(REPO / "Snakefile"), "--profile", str(REPO / "profiles" / "default"),
           "-d", str(workdir), "--configfile", str(configfile), "--cores", "2", *args]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if check and done.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-6000:]}")
    return done


# the statistics jobs downstream of any similarity output (one job each for all matrices)
STATISTICS_OF_SIMILARITY = {"mantel": 1, "family_separation": 1, "resampling": 1, "statistics_figures": 1}
# jobs that read every map and so rerun whenever one method's maps change
STATISTICS_OF_MAPS = {"sanity": 1, "complexity": 1, "faithfulness": 1, "random_logit": 1, "cross_deletion": 1,
                      "cluster_evidence": 3}  # each map method's cross-deletion clusters (one table for all)
# the per-model statistics: one part job per model (rule <name>_model), joined by the job named after it
PER_MODEL = ("sanity", "faithfulness", "random_logit")


def parts(models: int) -> dict[str, int]:
    """The part jobs that rerun when ``models`` models' maps or weights change."""
    return {f"{name}_model": models for name in PER_MODEL}


def job_counts(output: str) -> dict[str, int]:
    table = output.split("Job stats:")[1].split("\n\n")[0]
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M) if m[1] != "total"}


def test_explanations_have_the_subset_shape_and_predicted_targets(run):
    subset = pd.read_csv(run / "results/data/explain.csv", dtype={"image_id": str})
    assert len(subset) == TINY["data"]["explain_images"]
    size = TINY["data"]["image_size"]
    for method in ("gradcam", "ig", "kernelshap"):
        for model in ("resnet", "vit"):
            f = ArrayFile(run / f"results/explanations/{method}/{model}.safetensors")
            maps = f.read("maps")  # raw, at the method's native grid
            assert maps.shape == (len(subset), *f.meta["grid"]) and np.isfinite(maps).all()
            assert f.meta["grid"] == ([4, 4] if method == "gradcam" else [size, size])
            assert f.meta["image_ids"] == list(subset["image_id"])
            preds = pd.read_csv(run / f"results/predictions/{model}.csv", dtype={"image_id": str}).set_index("image_id")
            assert (f.read("targets") == preds.loc[subset["image_id"], "pred"].to_numpy()).all()
            if method == "gradcam":  # after its ReLU, un-normalised
                assert maps.min() >= 0 and (maps.reshape(len(maps), -1).max(1) > 0).any()
            else:
                assert (maps < 0).any()


@pytest.mark.parametrize("method", ["gradcam", "ig"])
@pytest.mark.parametrize("metric", ["cosine", "rbf"])
def test_similarity_matrices_are_symmetric_with_zero_self_distance(run, method, metric):
    base = run / f"results/similarity/{method}/{metric}"
    mean, std, dist, low, high = (read_matrix(base / f"all/{k}.csv") for k in ("mean", "std", "distance", "ci_low", "ci_high"))
    for m in (mean, std, dist, low, high):
        assert list(m.index) == list(m.columns) == ["resnet", "vit"]
        assert np.isfinite(m.to_numpy()).all() and np.allclose(m, m.T)
    np.testing.assert_allclose(dist, np.hypot(1 - mean, std), atol=1e-7)
    assert (low.to_numpy() <= mean.to_numpy() + 1e-9).all() and (mean.to_numpy() <= high.to_numpy() + 1e-9).all()
    for model in ("resnet", "vit"):  # zero maps are excluded: every model is at distance 0 from itself
        assert dist.loc[model, model] == pytest.approx(0, abs=1e-6)
    sims = ArrayFile(base / "per_image.safetensors").read("similarity")
    np.testing.assert_allclose(np.nanmean(sims, 0), mean, atol=1e-7)
    matching = read_matrix(base / "matching/mean.csv")
    preds = [pd.read_csv(run / f"results/predictions/{m}.csv", dtype={"image_id": str}).set_index("image_id")
             for m in ("resnet", "vit")]
    ids = ArrayFile(base / "per_image.safetensors").meta["image_ids"]
    same = preds[0].loc[ids, "pred"].to_numpy() == preds[1].loc[ids, "pred"].to_numpy()
    want = np.nanmean(sims[same, 0, 1]) if same.any() else np.nan
    np.testing.assert_allclose(matching.loc["resnet", "vit"], want, atol=1e-7)
    zero = pd.read_csv(run / f"results/similarity/{method}/zero_maps.csv")
    assert list(zero["model"]) == ["resnet", "vit"] and (zero["images"] == len(ids)).all()


FIGURES = ("dendrogram", "linkages", "louvain", "heatmap", "embedding")
CATEGORIES = ("near-tie", "some-wrong", "all-correct")


def test_clusters_figures_and_summary(run):
    from test_plots import check_png

    for method in ("gradcam", "ig"):
        for metric in ("cosine", "rbf"):
            check_png(run / f"results/figures/{method}/{metric}/histograms.png")
            for variant in ("all", "matching"):
                table = pd.read_csv(run / f"results/clusters/{method}/{metric}/{variant}/clusters.csv")
                assert sorted(table["model"]) == ["resnet", "vit"]
                info = json.loads((run / f"results/clusters/{method}/{metric}/{variant}/summary.json").read_text())
                if variant == "all":  # matching may have no image for the pair: then it says why it skipped
                    assert table["cluster"].between(1, 2).all()
                    assert info["linkage"] == "average" and info["cophenetic"] is None  # undefined for two models
                for fig in FIGURES:
                    check_png(run / f"results/figures/{method}/{metric}/{variant}/{fig}.png", 150)
    selection = pd.read_csv(run / "results/figures/explanations/selection.csv", dtype={"image_id": str})
    assert selection["image_id"].is_unique and set(selection["category"]) <= set(CATEGORIES)
    for category in CATEGORIES:
        for name in (category, f"deeper-{category}"):
            check_png(run / f"results/figures/explanations/{name}.png", 150)
    accuracy = pd.read_csv(run / "results/summary/accuracy.csv")
    assert list(accuracy["model"]) == ["resnet", "vit"]
    assert accuracy[["val_accuracy", "val_accuracy_centre_crop"]].stack().between(0, 1).all()
    outcomes = pd.read_csv(run / "results/summary/outcomes.csv")
    assert len(outcomes) == len(TINY["methods"]) * 2 and (outcomes["outcome"] == "explained").all()
    summary = (run / "results/summary.md").read_text()
    for model, acc in zip(accuracy["model"], accuracy["val_accuracy"]):
        assert f"| {model} |" in summary and f"{acc:.3g}" in summary
    for section in ("## Mantel tests", "## Family separation", "## Noise floor"):
        assert section in summary
    assert "| ig | cosine | all | n/a | n/a | n/a |" in summary  # two models: no Mantel r (logged)
    assert "no model entry has `seeds" in summary


def test_statistics_are_built_and_degrade_gracefully_with_two_models(run):
    from test_plots import check_png

    from xaisim.io import unstacked

    stats = run / "results/statistics"
    subset = pd.read_csv(run / "results/data/explain.csv", dtype={"image_id": str})
    ids = subset["image_id"]
    preds = {m: pd.read_csv(run / f"results/predictions/{m}.csv", dtype={"image_id": str}).set_index("image_id")
             for m in ("resnet", "vit")}
    same = int((preds["resnet"].loc[ids, "pred"] == preds["vit"].loc[ids, "pred"]).sum())
    totals = pd.read_csv(stats / "agreement/comparisons.csv").iloc[0]
    assert (totals["comparisons"], totals["same_class"], totals["different_class"]) == (10, same, 10 - same)
    assert read_matrix(stats / "agreement/same_class_counts.csv").loc["resnet", "vit"] == same
    val = (preds["resnet"]["pred"] == preds["vit"]["pred"]).mean()
    assert read_matrix(stats / "agreement/same_prediction.csv").loc["resnet", "vit"] == pytest.approx(val)
    features = ArrayFile(run / "results/features/vit.safetensors")
    assert features.meta["image_ids"] == list(ids) and features.shape("features") == [10, 64]
    cka = read_matrix(stats / "cka.csv")
    assert np.allclose(np.diag(cka), 1) and 0 < cka.loc["resnet", "vit"] < 1
    mantel = pd.read_csv(stats / "mantel.csv")
    assert mantel["r"].isna().all() and (mantel["n_models"] == 2).all()
    pairs = set(zip(mantel["a"], mantel["b"]))
    assert {("agreement", "cka"), ("cka", "gradcam/cosine/matching/mean"), ("agreement", "ig/rbf/all/distance"),
            ("gradcam/cosine/all/distance", "ig/cosine/all/distance")} <= pairs
    assert "2 models give fewer than 3 pairs" in (run / "results/logs/statistics/mantel.log").read_text()
    separation = pd.read_csv(stats / "family_separation.csv")
    assert len(separation) == 14 and separation["p"].isna().all() and (separation["families"] == 2).all()
    assert "no within-family pair" in (run / "results/logs/statistics/family_separation.log").read_text()
    assert pd.read_csv(stats / "noise_floor.csv").empty
    sanity = pd.read_csv(stats / "sanity.csv")
    assert set(sanity["method"]) == {"gradcam", "ig", "kernelshap"}  # map methods; not gradsim
    ig = sanity[sanity["method"] == "ig"]
    assert list(ig["model"]) == ["resnet"] * 3 + ["vit"] * 3 and ig["cosine"].between(-1, 1).all()
    assert (ig.groupby("model")["layers"].diff().dropna() > 0).all() and (ig["images"] == 4).all()
    counts = pd.read_csv(stats / "image_count.csv")
    ig_cosine = counts[(counts["method"] == "ig") & (counts["metric"] == "cosine")]
    assert list(ig_cosine["n"].unique()) == [2, 5, 7] and len(ig_cosine) == 3 * 25 and (counts["sum_abs_diff"] >= 0).all()
    stability = pd.read_csv(stats / "stability.csv")
    assert len(stability[(stability["method"] == "gradcam") & (stability["metric"] == "rbf")]) == 100
    figures = run / "results/figures/statistics"
    check_png(figures / "references.png")
    for kind in ("mantel", "image_count", "stability"):
        check_png(figures / f"{kind}/ig/cosine.png", 150)
    for method in ("gradcam", "ig", "kernelshap"):
        check_png(figures / f"sanity/{method}.png")
        check_png(figures / f"cross_deletion/{method}.png")
    cross = pd.read_csv(stats / "cross_deletion.csv")
    assert len(cross) == 3 * 2 * 2 * 3 and set(cross["images"]) == {4}  # methods x evaluated x explainers x fractions
    distance = unstacked(pd.read_csv(stats / "cross_deletion/distance.csv"))["ig"]
    assert list(distance.index) == ["resnet", "vit"] and (np.diag(distance) == 0).all()
    assert {("cross_deletion/ig", "ig/cosine/all/distance")} <= pairs
    evidence = json.loads((run / "results/clusters/ig/cross_deletion/all/summary.json").read_text())
    assert "skipped" not in evidence and sum(evidence["cut_sizes"]) == 2  # both models clustered
    check_png(run / "results/figures/ig/cross_deletion/all/dendrogram.png")
    assert "| ig | cross_deletion | all |" in (run / "results/summary.md").read_text()


@pytest.fixture(scope="module")
def report(run):
    snakemake(run, "--report", "results/report.html")
    return run / "results/report.html"


def test_report_lists_every_figure_and_table(report):
    html = report.read_text()
    for name in (*(f"{f}.png" for f in FIGURES), "histograms.png", "accuracy.png", "agreement.png", "near-tie.png", "accuracy.csv",
                 "outcomes.csv", "clusters.csv", "summary.md", "references.png", "mantel.csv", "family_separation.csv",
                 "noise_floor.csv", "stability.csv", "sanity.csv"):
        assert name in html, name


def test_report_renders_in_headless_chromium(report, tmp_path):
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")
    args = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            "--enable-logging=stderr", "--v=0", f"--user-data-dir={tmp_path / 'profile'}",
            "--virtual-time-budget=15000", "--window-size=1400,1000"]
    shot = tmp_path / "report.png"
    done = subprocess.run([*args, "--dump-dom", report.as_uri()], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    console = [line for line in done.stderr.splitlines() if "CONSOLE" in line]
    assert not [line for line in console if "Uncaught" in line or "Error" in line], console
    dom = done.stdout
    for name in ("0 Summary", "1 Models", "2 Explanations", "3 Similarity", "4 Clusters", "5 Statistics", "dendrogram.png",
                 "near-tie.png", "accuracy.png"):
        assert name in dom, name
    subprocess.run([*args, f"--screenshot={shot}", report.as_uri()], capture_output=True, timeout=300, check=True)
    from test_plots import check_png

    check_png(shot, 500)


def test_gradient_similarity_scores_figures_and_identical_class_table(run):
    subset = pd.read_csv(run / "results/data/explain.csv", dtype={"image_id": str})
    index = pd.read_csv(run / "results/data/index.csv", dtype={"image_id": str}).set_index("image_id")
    for model in ("resnet", "vit"):
        f = ArrayFile(run / f"results/explanations/gradsim/{model}.safetensors")
        scores = f.read("maps")
        assert scores.shape == (len(subset), 1, 20) and np.isfinite(scores).all() and np.abs(scores).max() <= 1 + 1e-6
        assert f.meta["image_ids"] == list(subset["image_id"]) and f.meta["kernel"] == "grad_cos"
        assert (index.loc[f.meta["reference_ids"], "split"] == "train").all()
    for fig in ("top_similar", "class_scores"):
        assert (run / f"results/figures/gradsim/{fig}.png").stat().st_size > 5000
    table = pd.read_csv(run / "results/summary/identical_class.csv")
    assert list(table["model"]) == ["resnet", "vit"] and table["identical_pred"].between(0, 1).all()
    distance = read_matrix(run / "results/similarity/gradsim/cosine/all/distance.csv")
    assert list(distance.index) == ["resnet", "vit"] and np.isfinite(distance.to_numpy()).all()


def test_a_finished_run_has_nothing_to_do(run):
    assert "Nothing to be done" in snakemake(run, "-n").stdout


def test_changing_a_normalisation_reruns_no_explanation(run, tmp_path):
    """The thesis' IG "absolute value" run: similarity and what follows only."""
    config = yaml.safe_load((REPO / "configs" / "tiny.yaml").read_text())
    config["methods"][1]["normalise"] = ["percentile", "abs", "resize"]
    changed = tmp_path / "abs.yaml"
    changed.write_text(yaml.safe_dump(config))
    out = snakemake(run, "-n", configfile=changed).stdout
    assert job_counts(out) == {"explanation_grids": 1, "similarity_ig": 1, "cluster": 4, "histograms": 2, "outcomes": 1,
                               "summary": 1, "all": 1, **STATISTICS_OF_SIMILARITY}


def test_changing_one_method_setting_reruns_only_that_methods_jobs(run, tmp_path):
    config = yaml.safe_load((REPO / "configs" / "tiny.yaml").read_text())
    config["methods"][1]["params"]["n_steps"] = 6
    changed = tmp_path / "changed.yaml"
    changed.write_text(yaml.safe_dump(config))
    out = snakemake(run, "-n", configfile=changed).stdout
    assert job_counts(out) == {"explain": 2, "outcomes": 1, "explanation_grids": 1, "similarity_ig": 1, "cluster": 4,
                               "histograms": 2, "summary": 1, "all": 1, **STATISTICS_OF_MAPS, **parts(2),
                               **STATISTICS_OF_SIMILARITY}
    assert "results/explanations/ig/resnet.safetensors" in out
    assert "output: results/explanations/gradcam" not in out


def test_thesis_preset_builds_its_dag(tmp_path):
    out = snakemake(tmp_path, "-n", configfile=REPO / "configs" / "imagenette2.yaml").stdout
    counts = job_counts(out)
    assert counts["download"] == 1 and counts["train"] == 14 and counts["explain"] == 14 * 3  # GradCAM, IG, KernelSHAP
    assert counts["similarity_GradCAM"] == counts["similarity_IntegratedGradients"] == 1
    assert counts["cluster"] == 3 * 2 * 2  # methods x metrics x variants (all, matching)
    assert counts["cluster_evidence"] == 3  # the cross-model deletion distance of each map method


def test_seeds_make_replicates_that_are_ordinary_models(tmp_path):
    config = yaml.safe_load((REPO / "configs" / "tiny.yaml").read_text())
    config["models"][0]["seeds"] = [0, 1]
    configfile = tmp_path / "seeds.yaml"
    configfile.write_text(yaml.safe_dump(config))
    out = snakemake(tmp_path / "work", "-n", configfile=configfile).stdout
    counts = job_counts(out)
    assert counts["train"] == counts["predict"] == 3 and counts["explain"] == 3 * 4  # 3 map methods, gradsim
    assert counts["family_separation"] == counts["sanity"] == counts["mantel"] == 1
    trained = set(re.findall(r"output: results/models/([\w-]+)/weights.safetensors", out))
    assert trained == {"resnet-s0", "resnet-s1", "vit"}


@pytest.mark.parametrize("statistics, message", [
    ({"permutations": 0}, "config statistics.permutations: 0 is less than the minimum of 1"),
    ({"image_counts": [4, 12]}, "config statistics.image_counts: [12] not below data.explain_images=10"),
])
def test_bad_statistics_settings_fail_when_the_dag_is_built(tmp_path, statistics, message):
    config = yaml.safe_load((REPO / "configs" / "tiny.yaml").read_text())
    config["statistics"] = statistics
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(config))
    done = snakemake(tmp_path, "-n", configfile=bad, check=False)
    assert done.returncode != 0 and message in done.stdout + done.stderr
    assert not (tmp_path / "results").exists()


def test_a_bad_config_fails_before_any_job_with_one_clear_line(tmp_path):
    config = yaml.safe_load((REPO / "configs" / "tiny.yaml").read_text())
    config["models"][1]["arch"] = "vit_tiny_patch17"
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(config))
    done = snakemake(tmp_path, "-n", configfile=bad, check=False)
    assert done.returncode != 0
    assert "config models[1].arch: unknown timm architecture 'vit_tiny_patch17'" in done.stdout + done.stderr
    assert not (tmp_path / "results").exists()


def test_rerunning_a_job_on_the_cpu_is_bitwise_equal(run):
    target = "results/explanations/ig/vit.safetensors"
    before = (run / target).read_bytes()
    snakemake(run, target, "--force")
    assert (run / target).read_bytes() == before


def _url_config(tmp_path, md5):
    import hashlib
    import tarfile

    from conftest import make_imagefolder

    root = make_imagefolder(tmp_path / "src" / "shapes", classes=("a", "b", "c"), per_split=(6, 4))
    archive = tmp_path / "shapes.tgz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(root, arcname="shapes")
    config = yaml.safe_load((REPO / "configs" / "tiny.yaml").read_text())
    config["data"] = {"source": "url", "url": archive.as_uri(), "subdir": "shapes", "image_size": 16,
                      "explain_images": 6, "md5": md5 or hashlib.md5(archive.read_bytes()).hexdigest()}
    config["models"][1]["kwargs"]["img_size"] = 16  # the ViT is built for its input size
    path = tmp_path / "url.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_url_source_downloads_verifies_extracts_and_indexes(tmp_path):
    work = tmp_path / "work"
    snakemake(work, "results/data/explain.csv", configfile=_url_config(tmp_path, None))
    assert (work / "resources/shapes.tgz").is_file()
    index = pd.read_csv(work / "results/data/index.csv")
    assert len(index) == 30 and sorted(index["class_name"].unique()) == ["a", "b", "c"]
    assert all((work / "results/data" / p).is_file() for p in index["path"])
    subset = pd.read_csv(work / "results/data/explain.csv")
    assert len(subset) == 6 and subset["label"].value_counts().eq(2).all()


def test_url_source_with_a_wrong_md5_fails_and_leaves_no_archive(tmp_path):
    work = tmp_path / "work"
    done = snakemake(work, "results/data/index.csv", configfile=_url_config(tmp_path, "0" * 32), check=False)
    assert done.returncode != 0
    log = (work / "results/logs/download.log").read_text()
    assert "md5 mismatch" in log and "0" * 32 in log
    assert not (work / "resources/shapes.tgz").exists()


@pytest.mark.parametrize("configfile", ["config.yaml", "configs/imagenette2.yaml"])
def test_workflow_is_lint_and_format_clean(tmp_path, configfile):
    done = snakemake(tmp_path, "--lint", configfile=REPO / configfile)
    out = done.stdout + done.stderr
    assert "Lints for" not in out and "Congratulations, your workflow is in a good condition!" in out
    fmt = subprocess.run([str(Path(sys.executable).parent / "snakefmt"), "--check", str(REPO / "Snakefile"),
                          str(REPO / "rules")], capture_output=True, text=True)
    assert fmt.returncode == 0, fmt.stderr


def test_scripts_import_xaisim_without_an_installed_package():
    """Jobs in `--sdm conda` envs have no xaisim installed: they find it through scripts/xaisim."""
    code = f"import sys; sys.path.append({str(REPO / 'scripts')!r}); import xaisim; print(xaisim.__file__)"
    done = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert Path(done.stdout.strip()).resolve() == (REPO / "xaisim" / "__init__.py").resolve()


def test_one_job_per_statistic_writes_the_tables_the_per_model_jobs_join(run, tmp_path):
    """`statistics.per_model: false` (the quickstart's): sanity, faithfulness and random logit as one job
    each, byte for byte the tables the per-model jobs and their join wrote."""
    work = tmp_path / "work"
    shutil.copytree(run, work, symlinks=True)
    config = yaml.safe_load(yaml.safe_dump(TINY))
    config["statistics"] = {"per_model": False}
    configfile = tmp_path / "single.yaml"
    configfile.write_text(yaml.safe_dump(config))
    tables = ["sanity", "faithfulness", "faithfulness/per_image", "faithfulness/curves", "random_logit"]
    targets = [f"results/statistics/{t}.csv" for t in tables]
    done = snakemake(work, "--forcerun", "sanity", "faithfulness", "random_logit", *targets, configfile=configfile)
    out = done.stdout + done.stderr
    assert {"sanity": 1, "faithfulness": 1, "random_logit": 1}.items() <= job_counts(out).items()
    assert not any(f"{name}_model" in job_counts(out) for name in PER_MODEL)
    for path in targets:
        assert (work / path).read_bytes() == (run / path).read_bytes(), path
