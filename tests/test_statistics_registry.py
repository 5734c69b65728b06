"""The statistics registry: declarations are complete and checked, and a new statistic (one module, its
schema keys) gets its rule, inputs, outputs and figure from them."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from xaisim import statistics
from xaisim.plots.statistics import FIGURES
from xaisim.statistics import STATISTICS, declarations

REPO = Path(__file__).resolve().parents[1]
SCHEMA = yaml.safe_load((REPO / "schemas" / "config.schema.yaml").read_text())["properties"]["statistics"]

TINY_STATISTIC = '''
from xaisim.io import read_matrix, write_csv
from xaisim.statistics import STATISTICS


@STATISTICS.register("spread", reads={"distances": "distance", "mantel": "mantel"}, writes={"spread": "spread"},
                     settings=["spread.scale"], context=["explanations"], figures={"spread": "matrices"})
def spread(inputs, tables, *, explanations, scale):
    import pandas as pd

    rows = [{"key": k, "spread": scale * read_matrix(p).to_numpy().std()} for k, p in zip(explanations, inputs["distances"])]
    write_csv(pd.DataFrame(rows), tables["spread"], index=False)
'''


def _setting(key):
    node = SCHEMA
    for part in key.split("."):
        node = node["properties"][part]
    return node


def test_every_statistic_declares_settings_figures_and_captions_that_exist():
    found = declarations()
    assert set(found) == {"agreement", "complexity", "cross_deletion", "faithfulness", "mantel", "family_separation", "random_logit", "resampling", "sanity"}
    for name, d in found.items():
        assert (REPO / d["source"]).is_file()
        for key in d["settings"] + ([d["enabled"]] if d["enabled"] else []):
            assert "description" in _setting(key), f"{name}: statistics.{key} has no schema description"
        for figure in d["figures"]:
            assert figure in FIGURES.names()
            assert (REPO / "report" / f"statistics_{figure}.rst").is_file()
    assert found["sanity"]["torch"] and found["sanity"]["gpu"] and not found["mantel"]["torch"]
    assert {n for n, d in found.items() if d["per_model"]} == {"sanity", "faithfulness", "random_logit"}
    assert found["mantel"]["reads"]["cka"] == "cka" and found["agreement"]["writes"]["cka"] == "cka"


def test_a_declaration_naming_an_unknown_input_fails(monkeypatch):
    monkeypatch.setattr(statistics, "STATISTICS", type(STATISTICS)("statistic"))

    def broken(inputs, tables):
        pass

    broken.__module__ = "xaisim.statistics.broken"
    statistics.STATISTICS.register("broken", reads={"x": "no_such_table"})(broken)
    monkeypatch.setattr(statistics.pkgutil, "iter_modules", lambda path: [])
    with pytest.raises(ValueError, match="statistic 'broken': unknown reads 'no_such_table'"):
        declarations()


def test_a_per_model_statistic_may_take_only_context_of_one_model(monkeypatch):
    monkeypatch.setattr(statistics, "STATISTICS", type(STATISTICS)("statistic"))

    def whole(inputs, tables, *, explanations):
        pass

    whole.__module__ = "xaisim.statistics.whole"
    statistics.STATISTICS.register("whole", reads={"m": "maps"}, context=["explanations"], per_model=True)(whole)
    monkeypatch.setattr(statistics.pkgutil, "iter_modules", lambda path: [])
    with pytest.raises(ValueError, match="statistic 'whole': unknown per-model context 'explanations'"):
        declarations()


def test_gather_joins_the_parts_in_order_and_refuses_other_columns(tmp_path):
    a, b, none, other = (tmp_path / f"{n}.csv" for n in ("a", "b", "none", "other"))
    a.write_text("model,x\nresnet,1\nresnet,2\n")
    b.write_text("model,x\nvit,0.5\n")
    none.write_text("model,x\n")  # a part without rows
    statistics.gather({"t": [str(a), str(none), str(b)]}, {"t": str(tmp_path / "t.csv")})
    assert (tmp_path / "t.csv").read_text() == "model,x\nresnet,1\nresnet,2\nvit,0.5\n"
    other.write_text("model,y\nvit,1\n")
    with pytest.raises(ValueError, match="other.csv: columns model,y differ from the other parts' model,x"):
        statistics.gather({"t": [str(a), str(other)]}, {"t": str(tmp_path / "u.csv")})
    assert not (tmp_path / "u.csv").exists()


def test_a_new_statistic_gets_its_rule_and_outputs_from_its_declaration(tmp_path):
    """A copy of the repository plus one module and its schema key: the dry run has its job."""
    copy = tmp_path / "repo"
    shutil.copytree(REPO, copy, ignore=shutil.ignore_patterns(".git", ".venv", ".snakemake", "results", "resources",
                                                             "__pycache__", ".pytest_cache"))
    (copy / "xaisim" / "statistics" / "spread.py").write_text(TINY_STATISTIC)
    (copy / "report" / "statistics_spread.rst").write_text("Spread of the distances.\n")
    schema_path = copy / "schemas" / "config.schema.yaml"
    schema = yaml.safe_load(schema_path.read_text())
    schema["properties"]["statistics"]["properties"]["spread"] = {
        "type": "object", "default": {}, "description": "the spread", "additionalProperties": False,
        "properties": {"scale": {"type": "number", "default": 2.0, "description": "factor"}},
    }
    schema_path.write_text(yaml.safe_dump(schema, sort_keys=False))
    cmd = [str(Path(sys.executable).parent / "snakemake"), "-s", str(copy / "Snakefile"), "-d", str(tmp_path / "work"),
           "--configfile", str(copy / "configs" / "tiny.yaml"), "-n", "--cores", "1"]
    done = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(copy)})
    assert done.returncode == 0, done.stderr[-3000:]
    block = done.stdout.split("rule spread:")[1].split("\n\n")[0]
    assert "output: results/statistics/spread.csv" in block
    assert "results/statistics/mantel.csv" in block and "results/similarity/ig/rbf/matching/distance.csv" in block
    assert "log: results/logs/statistics/spread.log" in block
    figures = done.stdout.split("rule statistics_figures:")[1].split("\n\n")[0]
    assert "results/figures/statistics/spread/ig/cosine.png" in figures and "results/statistics/spread.csv" in figures
