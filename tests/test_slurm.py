"""configs/tiny.yaml through `--profile profiles/slurm` on a real single-node SLURM cluster.

The fixture installs Debian's slurm-wlm and munge when missing (root and apt-get needed, else the
test skips), starts munged, slurmctld and slurmd with a cluster of this machine alone (partition
`main` as the profile expects, no accounting, so the profile's `squeue` status command is what makes
it work) and stops them afterwards. Outputs must equal the local run byte for byte (training time
aside), and a job cancelled with `scancel` must be retried to success.
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from test_workflow import REPO, SNAKEMAKE

# The plugin's job step drops SLURM_CONF from the environment of `srun`, so the configuration must
# sit where every SLURM command looks by default.
SLURM_CONF = Path("/etc/slurm/slurm.conf")


def _install() -> None:
    if os.geteuid() != 0:
        pytest.skip("the SLURM test needs root to install and start slurm-wlm and munge")
    if not shutil.which("apt-get"):
        pytest.skip("the SLURM test needs apt-get to install slurm-wlm and munge")
    if not all(shutil.which(b) for b in ("slurmctld", "slurmd", "munged", "sbatch", "squeue", "scancel")):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=env, capture_output=True, timeout=600)
        subprocess.run(["apt-get", "install", "-y", "-qq", "slurm-wlm", "munge"], check=True, env=env,
                       capture_output=True, timeout=900)
    try:
        import snakemake_executor_plugin_slurm  # noqa: F401
    except ImportError:  # `make test` installs the `slurm` extra; a bare venv gets it here
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "snakemake-executor-plugin-slurm"], check=True)


def _conf(d: Path) -> str:
    host = socket.gethostname().split(".")[0]
    mem_mb = int(Path("/proc/meminfo").read_text().split()[1]) // 1024 - 1024
    return "\n".join([
        "ClusterName=xaisimtest", f"SlurmctldHost={host}", "SlurmUser=root", "SlurmdUser=root",
        "SlurmctldPort=16817", "SlurmdPort=16818", "AuthType=auth/munge", "CredType=cred/munge",
        f"AuthInfo=socket={d}/munge.sock", f"StateSaveLocation={d}/state", f"SlurmdSpoolDir={d}/spool",
        f"SlurmctldPidFile={d}/slurmctld.pid", f"SlurmdPidFile={d}/slurmd.pid",
        f"SlurmctldLogFile={d}/slurmctld.log", f"SlurmdLogFile={d}/slurmd.log",
        "ProctrackType=proctrack/linuxproc", "TaskPlugin=task/none", "SchedulerType=sched/backfill",
        "SelectType=select/cons_tres", "SelectTypeParameters=CR_CPU", "MpiDefault=none", "ReturnToService=2",
        "AccountingStorageType=accounting_storage/none", "JobCompType=jobcomp/none",
        "JobAcctGatherType=jobacct_gather/none", "MinJobAge=300",
        f"NodeName={host} CPUs={os.cpu_count()} RealMemory={mem_mb} State=UNKNOWN",
        f"PartitionName=main Nodes={host} Default=YES MaxTime=INFINITE State=UP", "",
    ])


def _stop(pid_file: Path) -> None:
    if pid_file.is_file():
        pid = int(pid_file.read_text().split()[0])
        try:
            os.kill(pid, 15)
        except ProcessLookupError:
            return
        for _ in range(50):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.2)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    _install()
    d = tmp_path_factory.mktemp("slurm")
    (d / "state").mkdir()
    (d / "spool").mkdir()
    (d / "munge.key").write_bytes(os.urandom(1024))
    (d / "munge.key").chmod(0o600)
    backup = d / "slurm.conf.orig"
    if SLURM_CONF.exists():
        shutil.copy2(SLURM_CONF, backup)
    SLURM_CONF.parent.mkdir(parents=True, exist_ok=True)
    SLURM_CONF.write_text(_conf(d))
    try:
        subprocess.run(["munged", "--force", f"--socket={d}/munge.sock", f"--key-file={d}/munge.key",
                        f"--pid-file={d}/munged.pid", f"--log-file={d}/munged.log", f"--seed-file={d}/munged.seed"],
                       check=True)
        subprocess.run(["slurmctld"], check=True)
        subprocess.run(["slurmd"], check=True)
        for _ in range(120):
            state = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True).stdout.strip()
            if state == "idle":
                break
            time.sleep(1)
        else:
            raise AssertionError(f"the test cluster did not come up (sinfo: {state!r}); see {d}/slurmctld.log")
        yield d
    finally:
        subprocess.run(["scancel", "--user=root"], capture_output=True)
        for daemon in ("slurmd", "slurmctld", "munged"):
            _stop(d / f"{daemon}.pid")
        SLURM_CONF.unlink(missing_ok=True)
        if backup.exists():
            shutil.copy2(backup, SLURM_CONF)


def _cancel_one_running_job(proc: subprocess.Popen, rule: str, timeout: float = 1200) -> str:
    """scancel the first running job of ``rule``; return its SLURM id."""
    deadline = time.time() + timeout
    while proc.poll() is None and time.time() < deadline:
        out = subprocess.run(["squeue", "-h", "-t", "RUNNING", "-o", "%i|%k"], capture_output=True, text=True).stdout
        for line in out.splitlines():
            job_id, comment = line.split("|", 1)
            if comment.startswith(f"rule_{rule}"):
                time.sleep(2)  # let it start its work
                subprocess.run(["scancel", job_id], check=True)
                return job_id
        time.sleep(0.5)
    raise AssertionError(f"no running {rule} job appeared on the cluster")


def _comparable(root: Path) -> dict[str, bytes]:
    """Every result file's bytes; training time (metrics.json, accuracy.csv) left out, logs and report too."""
    files = {}
    for path in sorted((root / "results").rglob("*")):
        rel = path.relative_to(root / "results").as_posix()
        if not path.is_file() or rel.split("/")[0] in ("logs", "benchmarks") or rel == "report.html":
            continue
        if path.name == "metrics.json":
            files[rel] = json.dumps({k: v for k, v in json.loads(path.read_text()).items() if k != "train_seconds"})
        elif rel == "summary/accuracy.csv":
            files[rel] = pd.read_csv(path).drop(columns="train_seconds").to_csv()
        else:
            files[rel] = path.read_bytes()
    return files


def test_tiny_config_on_slurm_equals_the_local_run_and_survives_a_scancel(cluster, run, tmp_path):
    work = tmp_path / "work"
    cmd = [SNAKEMAKE, "-s", str(REPO / "Snakefile"), "--profile", str(REPO / "profiles/slurm"), "-d", str(work),
           "--configfile", str(REPO / "configs/tiny.yaml")]
    log = tmp_path / "snakemake.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
        try:
            cancelled = _cancel_one_running_job(proc, "train")
            proc.wait(timeout=1800)
        finally:
            proc.kill()
    text = log.read_text()
    assert proc.returncode == 0, text[-5000:]
    assert f"SLURM jobid {cancelled}" in text and "Trying to restart job" in text, text[-5000:]
    local, slurm = _comparable(run), _comparable(work)
    assert sorted(slurm) == sorted(local)
    different = [rel for rel in local if local[rel] != slurm[rel]]
    assert not different, f"SLURM and local outputs differ: {different}"
