"""The `--sdm conda` job environment lists what pyproject.toml's dependencies list."""

import re
import tomllib

import yaml
from conftest import REPO

# The job environment runs scripts only; Snakemake itself drives the workflow from outside it.
NOT_IN_JOB_ENVS = {"snakemake"}


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def test_every_job_environment_matches_pyproject_dependencies():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    wanted = {_name(r): r.replace(" ", "") for r in project["dependencies"] if _name(r) not in NOT_IN_JOB_ENVS}
    envs = sorted((REPO / "envs").glob("*.yaml"))
    assert envs
    for env in envs:
        deps = yaml.safe_load(env.read_text())["dependencies"]
        pip = next(d["pip"] for d in deps if isinstance(d, dict) and "pip" in d)
        listed = {_name(r): r.replace(" ", "") for r in pip}
        assert listed == wanted, f"{env.name}: differs from pyproject.toml dependencies"
        python = next(d for d in deps if isinstance(d, str) and d.startswith("python"))
        assert python.split("=")[-1] >= project["requires-python"].lstrip(">="), f"{env.name}: {python}"
