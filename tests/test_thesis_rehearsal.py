"""The CI subset of bench/thesis.py: two of the thesis preset's architectures (a CNN and a transformer)
at 224 px with random-init weights, all three methods, one photo explained, through the real CLI."""

import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))
import thesis  # noqa: E402


def test_bad_bench_input_fails_in_one_line_before_compute(tmp_path):
    with pytest.raises(SystemExit, match=r"--models \['Nope'\] are not in imagenette2.yaml; choose from"):
        thesis.main(["--work", str(tmp_path), "--models", "Nope"])
    (tmp_path / "photos" / "val").mkdir(parents=True)  # a photo folder left without images
    with pytest.raises(SystemExit, match="photos holds no images; delete it"):
        thesis.main(["--work", str(tmp_path), "--models", "ResNet18", "--methods", "GradCAM"])


def test_the_rehearsal_runs_the_preset_offline_and_reports_every_explain_job(tmp_path, capsys):
    table = thesis.main(["--work", str(tmp_path), "--models", "ResNet18", "DeiT_T", "--quick", "--no-model-statistics"])
    config = yaml.safe_load((tmp_path / "rehearsal.yaml").read_text())
    preset = {m["name"]: m for m in yaml.safe_load(thesis.PRESET.read_text())["models"]}
    for m in config["models"]:  # the preset's architectures and GradCAM layers, local weights
        assert m["arch"] == preset[m["name"]]["arch"] and m["methods"] == preset[m["name"]]["methods"]
        assert Path(m["pretrained_file"]).is_file()
    explain = table[table["rule"] == "explain"]
    assert sorted(zip(explain["model"], explain["method"])) == sorted(
        (m, k) for m in ("ResNet18", "DeiT_T") for k in ("GradCAM", "IntegratedGradients", "KernelSHAP"))
    assert (explain["wall_s"] > explain["start_wall_s"]).all() and (explain["start_wall_s"] > 0).all()
    assert (explain["max_rss_mb"] > 0).all()
    assert (explain["max_rss_mb"] <= config["explain"]["memory_mb"] + thesis.JOB_OVERHEAD_MB).all()
    printed = capsys.readouterr().out
    assert "Peak RSS within mem_mb: 6 of 6 explain jobs" in printed and "h CPU) for 256" in printed
    assert (tmp_path / "results" / "summary.md").is_file()
