"""What reruns after a change, read from `snakemake -n` job lists against one finished tiny run."""

import hashlib
import os
import re
import shutil
import subprocess
import tarfile

import pandas as pd
import pytest
import yaml
from conftest import make_imagefolder
from test_workflow import (
    REPO,
    SNAKEMAKE,
    STATISTICS_OF_MAPS,
    STATISTICS_OF_SIMILARITY,
    TINY,
    job_counts,
    parts,
    snakemake,
)

from xaisim.workflow import code_hash, stage_sources

# every figure/table job downstream of both methods' similarity jobs (2 metrics x 2 variants each)
# tiny.yaml: gradcam, ig, kernelshap (cosine + rbf each) and gradsim (cosine); variants all + matching
FIGURES_OF_SIMILARITY = {"cluster": 14, "histograms": 7, "outcomes": 1, "summary": 1, "all": 1, **STATISTICS_OF_SIMILARITY}
AGGREGATION = {"explanation_grids": 1, "similarity_gradcam": 1, "similarity_ig": 1,
               "similarity_kernelshap": 1, "similarity_gradsim": 1, "identical_class": 1,
               "plot_gradient_similarity": 1, "agreement": 1, **STATISTICS_OF_MAPS, **FIGURES_OF_SIMILARITY}
SIMILARITY_JOBS = {"similarity_gradcam": 1, "similarity_ig": 1, "similarity_kernelshap": 1, "similarity_gradsim": 1}


def dry_run(workdir, config=None, tmp_path=None, **kwargs) -> dict[str, int]:
    """Jobs per rule that a dry run with ``config`` (default: tiny) would run; {} for nothing."""
    configfile = REPO / "configs" / "tiny.yaml"
    if config is not None:
        configfile = tmp_path / "changed.yaml"
        configfile.write_text(yaml.safe_dump(config))
    out = snakemake(workdir, "-n", configfile=configfile, **kwargs).stdout
    return {} if "Nothing to be done" in out else job_counts(out)


def tiny():
    return yaml.safe_load(yaml.safe_dump(TINY))


def _knobs():
    def set_(path, value):
        def change(c):
            node = c
            for key in path[:-1]:
                node = node.setdefault(key, {})
            node[path[-1]] = value

        return change

    return {
        "explain.batch_size": set_(["explain", "batch_size"], 2),
        "explain.num_workers": set_(["explain", "num_workers"], 1),
        "train.num_workers": set_(["train", "num_workers"], 1),
        "similarity.chunk_size": set_(["similarity", "chunk_size"], 5),
        "threads": set_(["threads"], 2),
        "device auto on a CPU": set_(["device"], "auto"),
        "resources": set_(["resources"], {"train": {"mem_mb": 100, "runtime": 5}}),
        "a key digits does not use": set_(["data", "path"], "/nowhere"),
        "defaults written out": _write_out_defaults,
    }


def _write_out_defaults(c):
    c.update(amp=False, seed=0, cluster={"linkage": "average", "resolution": 1.0, "k": "auto", "graph": "knn"})
    c["data"].update(val_fraction=0.2)
    c["models"][0].update(pretrained=False, methods={})
    c["methods"][0]["params"] = {"layer": "auto"}
    c["methods"][1]["params"].update(baseline="zero")
    c["metrics"][0]["params"] = {}
    c["train"].update(weight_decay=0.05, optimizer="adamw")


def test_performance_knobs_and_written_out_defaults_rerun_nothing(run, tmp_path):
    """All knobs at once (one dry run); a failure's output names the rule and the changed params."""
    config = tiny()
    for change in _knobs().values():
        change(config)
    assert config != TINY
    assert dry_run(run, config, tmp_path) == {}


def test_nothing_changed_reruns_nothing(run):
    assert dry_run(run) == {}


def test_a_similarity_or_plot_option_reruns_no_train_or_explain_job(run, tmp_path):
    config = tiny()
    config["metrics"][1]["params"]["sigma"] = 5  # rbf: every method but gradsim (cosine only)
    assert dry_run(run, config, tmp_path) == {"similarity_gradcam": 1, "similarity_ig": 1, "similarity_kernelshap": 1,
                                              **FIGURES_OF_SIMILARITY, "cluster": 12, "histograms": 6}
    config = tiny()
    config["cluster"] = {"resolution": 0.5}  # clusters and the cluster stability that re-clusters
    assert dry_run(run, config, tmp_path) == {"cluster": 14, "cluster_evidence": 3, "resampling": 1, "statistics_figures": 1, "summary": 1,
                                              "all": 1}
    config = tiny()
    config["statistics"] = {"permutations": 99}  # a statistics option: the two permutation tests and what follows
    assert dry_run(run, config, tmp_path) == {"mantel": 1, "family_separation": 1, "statistics_figures": 1, "summary": 1,
                                              "all": 1}


def test_adding_a_model_runs_only_its_jobs_and_the_aggregation(run, tmp_path):
    config = tiny()
    weights = tmp_path / "pretrained.safetensors"
    weights.touch()
    config["models"].append({"name": "resnet2", "arch": "resnet10t", "pretrained_file": str(weights)})
    configfile = tmp_path / "changed.yaml"
    configfile.write_text(yaml.safe_dump(config))
    out = snakemake(run, "-n", configfile=configfile).stdout
    assert job_counts(out) == {"train": 1, "predict": 1, "explain": 4, "accuracy": 1,
                               **AGGREGATION, **parts(1)}  # the per-model statistics of the new model only
    assert f"input: results/data/index.csv, {weights}" in out  # a pretrained_file is an input of training


def test_stage_sources_follow_imports_and_only_the_jobs_own_plugin():
    ig = {p.name for p in stage_sources("scripts/explain.py", ("integrated_gradients",))}
    assert {"explain.py", "driver.py", "contract.py", "integrated_gradients.py", "models.py", "data.py"} <= ig
    assert "gradcam.py" not in ig and "similarity.py" not in ig and "gradient_similarity.py" not in ig
    gs = {p.name for p in stage_sources("scripts/explain.py", ("gradient_similarity",))}
    assert {"gradient_similarity.py", "similarity.py", "gradients.py"} <= gs and "integrated_gradients.py" not in gs
    assert "explain" not in {p.parent.name for p in stage_sources("scripts/similarity.py", ("cosine",))}
    assert code_hash("scripts/explain.py", "gradcam") != code_hash("scripts/explain.py", "integrated_gradients")


@pytest.fixture(scope="module")
def workflow_copy(tmp_path_factory):
    """A copy of the workflow and package whose code a test may edit (jobs then import the copy)."""
    copy = tmp_path_factory.mktemp("workflow")
    for item in ("Snakefile", "rules", "scripts", "xaisim", "schemas", "envs", "report", "profiles", "configs"):
        src = REPO / item
        (shutil.copytree(src, copy / item, symlinks=True) if src.is_dir() else shutil.copy2(src, copy / item))
    return copy


def copy_dry_run(copy, workdir, edit: tuple[str, str, str] | None = None) -> dict[str, int]:
    """Dry run of the copied workflow after replacing ``old`` by ``new`` in one of its files (then undoing it)."""
    path, old, new = edit or ("Snakefile", "", "")
    text = (copy / path).read_text()
    assert old in text
    (copy / path).write_text(text.replace(old, new, 1))
    try:
        cmd = [SNAKEMAKE, "-s", str(copy / "Snakefile"), "--profile", str(copy / "profiles/default"), "-d", str(workdir),
               "--configfile", str(copy / "configs/tiny.yaml"), "--cores", "2", "-n"]
        done = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(copy)})
        assert done.returncode == 0, done.stderr[-3000:]
        return {} if "Nothing to be done" in done.stdout else job_counts(done.stdout)
    finally:
        (copy / path).write_text(text)


def test_a_changed_logic_line_reruns_that_stage_and_downstream_only(run, workflow_copy):
    assert copy_dry_run(workflow_copy, run) == {}
    edit = ("xaisim/similarity/aggregate.py", "np.sqrt((1 - mean) ** 2 + std**2)", "np.sqrt((1 - mean) ** 2 + 2 * std**2)")
    assert copy_dry_run(workflow_copy, run, edit) == {**SIMILARITY_JOBS, **FIGURES_OF_SIMILARITY}
    ig = workflow_copy / "xaisim/explain/integrated_gradients.py"
    line = next(line for line in ig.read_text().splitlines() if "return" in line and "def" not in line)
    edit = ("xaisim/explain/integrated_gradients.py", line, line + " * 1.0")
    assert copy_dry_run(workflow_copy, run, edit) == {"explain": 2, "explanation_grids": 1, "similarity_ig": 1, "cluster": 4,
                                                       "histograms": 2, "outcomes": 1, "summary": 1, "all": 1, **STATISTICS_OF_MAPS,
                                                       **parts(2), **STATISTICS_OF_SIMILARITY}


def test_touching_a_script_or_changing_a_comment_reruns_nothing(run, workflow_copy):
    script = workflow_copy / "scripts/train.py"
    os.utime(script)
    assert copy_dry_run(workflow_copy, run) == {}
    assert copy_dry_run(workflow_copy, run, ("xaisim/train.py", "\nimport", "\n# a comment\nimport")) == {}


def _imagefolder_config(tmp_path, root):
    config = tiny()
    config["data"] = {"source": "imagefolder", "path": str(root), "image_size": 16, "explain_images": 4}
    config["models"][1]["kwargs"]["img_size"] = 16  # the ViT is built for its input size
    # 8 training images: too few for gradient similarity's reference set
    config["methods"] = [m for m in config["methods"] if m["method"] != "gradient_similarity"]
    path = tmp_path / "folder.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_an_imagefolder_change_reindexes_and_a_deleted_image_leaves_the_index(tmp_path):
    root = make_imagefolder(tmp_path / "images")
    config, work = _imagefolder_config(tmp_path, root), tmp_path / "work"
    snakemake(work, "results/data/explain.csv", configfile=config)
    assert "Nothing to be done" in snakemake(work, "-n", "results/data/explain.csv", configfile=config).stdout
    for image in root.rglob("*.png"):  # touched (or copied without preserved times): the same content
        os.utime(image, ns=(1, 1))
    assert "Nothing to be done" in snakemake(work, "-n", "results/data/explain.csv", configfile=config).stdout
    shutil.copy(root / "val/cat/cat_0.png", root / "val/cat/cat_9.png")
    out = snakemake(work, "-n", configfile=config).stdout
    assert job_counts(out)["prepare_data"] == 1 and job_counts(out)["explain_subset"] == 1
    (root / "val/cat/cat_9.png").write_bytes(b"corrupt")
    done = snakemake(work, "results/data/index.csv", configfile=config, check=False)
    assert done.returncode != 0 and "cat_9.png: not a readable image" in done.stdout + done.stderr
    (root / "val/cat/cat_9.png").unlink()  # "delete the corrupt file and rerun"
    snakemake(work, "results/data/explain.csv", configfile=config)
    index = pd.read_csv(work / "results/data/index.csv")
    assert len(index) == 12 and "val/cat/cat_9" not in set(index["image_id"])


def test_a_new_archive_checksum_extracts_afresh(tmp_path):
    def archive(n_val):
        root = make_imagefolder(tmp_path / f"src{n_val}" / "shapes", classes=("a", "b"), per_split=(4, n_val))
        path = tmp_path / f"v{n_val}" / "shapes.tgz"
        path.parent.mkdir()
        with tarfile.open(path, "w:gz") as tar:
            tar.add(root, arcname="shapes")
        return path, hashlib.md5(path.read_bytes()).hexdigest()

    work = tmp_path / "work"
    for n_val in (2, 3):
        path, md5 = archive(n_val)
        config = tiny()
        config["data"] = {"source": "url", "url": path.as_uri(), "md5": md5, "subdir": "shapes", "image_size": 16,
                          "explain_images": 4}
        config["models"][1]["kwargs"]["img_size"] = 16
        configfile = tmp_path / "url.yaml"
        configfile.write_text(yaml.safe_dump(config))
        snakemake(work, "results/data/index.csv", configfile=configfile)
        assert (work / f"resources/data/{md5}/manifest.tsv").is_file()
        assert len(pd.read_csv(work / "results/data/index.csv").query("split == 'val'")) == 2 * n_val
    mirror = tmp_path / "mirror" / "shapes.tgz"  # the same archive at another URL: nothing to fetch again
    mirror.parent.mkdir()
    mirror.write_bytes(path.read_bytes())
    config["data"]["url"] = mirror.as_uri()
    configfile.write_text(yaml.safe_dump(config))
    assert "Nothing to be done" in snakemake(work, "-n", "results/data/index.csv", configfile=configfile).stdout


KNOBS = ("num_workers", "chunk_size", "device", "threads", "batch_size")


def test_every_rule_hashes_its_code_and_keeps_knobs_out_of_params():
    """The convention of rules/common.smk, checked on the rule texts (new rules included)."""
    for smk in sorted((REPO / "rules").glob("*.smk")):
        for block in re.split(r"^\s*rule ", smk.read_text(), flags=re.M)[1:]:
            name = block.split(":")[0]
            if "script:" not in block:
                continue
            params = re.search(r"^\s+params:\n((?:\s{8,}.*\n)+)", block, re.M)
            assert params, f"{smk.name}: rule {name} has no params"
            text = params[1]
            assert re.search(r"code=code\(\"scripts/\w+\.py\"", text), f"{smk.name}: rule {name} lacks code=code(...)"
            own = re.findall(r"^\s+(\w+)=", text, re.M)
            assert not set(own) & set(KNOBS), f"{smk.name}: rule {name} has knobs in params: {set(own) & set(KNOBS)}"


@pytest.mark.parametrize("method, params", [("gradcam", {}), ("integrated_gradients", {"n_steps": 8})])
def test_maps_and_logits_do_not_depend_on_the_batch_size(method, params):
    """Why `explain.batch_size` is a knob: on the CPU a batch of 4 gives the bytes of two batches of 2."""
    import timm
    import torch

    from xaisim.explain import METHODS

    torch.manual_seed(0)
    model = timm.create_model("resnet10t", num_classes=5, output_stride=8).eval()
    x, t = torch.randn(4, 3, 32, 32), torch.tensor([0, 1, 2, 3])
    fn, budget = METHODS.get(method), [64] if METHODS.info(method)["needs"].evals else []

    def maps(x, t):
        out = fn(model, x, t, *budget, **params)
        return getattr(out, "maps", out)

    assert torch.equal(maps(x, t), torch.cat([maps(x[:2], t[:2]), maps(x[2:], t[2:])]))
    with torch.no_grad():
        assert torch.equal(model(x), torch.cat([model(x[:2]), model(x[2:])]))
