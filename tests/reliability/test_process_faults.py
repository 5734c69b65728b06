"""A run killed with SIGKILL mid-job leaves nothing that looks complete, names the fix and resumes."""

import os
import signal
import subprocess
import time

from test_workflow import REPO, SNAKEMAKE, snakemake

WEIGHTS = "results/models/resnet/weights.safetensors"


def test_a_sigkilled_training_leaves_no_weights_names_the_unlock_and_resumes(tmp_path):
    log = tmp_path / "results/logs/train/resnet.log"
    cmd = [SNAKEMAKE, "-s", str(REPO / "Snakefile"), "--profile", str(REPO / "profiles/default"), "-d", str(tmp_path),
           "--configfile", str(REPO / "configs/tiny.yaml"), "--cores", "1", WEIGHTS]
    run = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 180
    while not (log.exists() and "epoch" in log.read_text()) and time.time() < deadline and run.poll() is None:
        time.sleep(0.2)  # training has started: its loop logs through tqdm
    assert run.poll() is None, "the run ended before it could be killed"
    os.killpg(run.pid, signal.SIGKILL)
    run.wait()
    assert not (tmp_path / WEIGHTS).exists()
    assert not (tmp_path / "results/models/resnet/metrics.json").exists()
    locked = snakemake(tmp_path, WEIGHTS, check=False)
    assert locked.returncode != 0 and "--unlock" in locked.stdout + locked.stderr
    snakemake(tmp_path, "--unlock")
    snakemake(tmp_path, WEIGHTS)
    assert (tmp_path / WEIGHTS).stat().st_size > 0
