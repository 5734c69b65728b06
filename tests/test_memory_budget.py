"""explain.memory_mb: the evaluation batch sized by one probing forward keeps a real forward and
backward within the budget; a budget too small for one sample fails in one line."""

import subprocess
import sys
from pathlib import Path

import pytest
import timm
import torch

from xaisim.explain.batching import MemoryBudgetError, auto_evals, model_bytes, sample_bytes

PEAK = """
import re, sys, psutil, torch, timm
from xaisim.explain.batching import auto_evals, model_bytes
torch.manual_seed(0); torch.set_num_threads(1)
arch, budget = sys.argv[1], float(sys.argv[2])
m = timm.create_model(arch, pretrained=False, num_classes=1000).eval()
n = auto_evals(m, torch.randn(1, 3, 224, 224), budget)
x = torch.randn(n, 3, 224, 224, requires_grad=True)
base = psutil.Process().memory_info().rss
open("/proc/self/clear_refs", "w").write("5")  # reset the peak (VmHWM) to the current RSS
m(x)[:, 0].sum().backward()
peak = int(re.search(r"VmHWM:\s+(\d+) kB", open("/proc/self/status").read())[1]) * 1024
print(n, (peak - base) / 2**20, (budget * 2**20 - model_bytes(m)) / 2**20)
"""


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="peak RSS reset needs Linux /proc")
@pytest.mark.parametrize("arch", ["resnet18", "efficientnet_b0"])
def test_auto_batch_keeps_a_forward_and_backward_within_the_budget(arch):
    out = subprocess.run([sys.executable, "-c", PEAK, arch, "600"], capture_output=True, text=True, check=True)
    n, used, allowed = map(float, out.stdout.split())
    assert n >= 2  # the budget holds several samples, so the measurement is of a real batch
    assert used <= allowed, f"{arch}: batch {n:g} used {used:.0f} MiB of {allowed:.0f}"


def test_auto_batch_grows_with_the_budget_and_counts_the_model():
    m = timm.create_model("resnet18", pretrained=False, num_classes=10).eval()
    x = torch.randn(1, 3, 64, 64)
    per = 3 * sample_bytes(m, x)
    small, large = auto_evals(m, x, 200), auto_evals(m, x, 400)
    assert large > small >= 1
    assert small == int((200 * 2**20 - model_bytes(m)) // per)


def test_a_budget_too_small_for_one_sample_names_the_setting():
    m = timm.create_model("resnet18", pretrained=False, num_classes=10).eval()
    with pytest.raises(MemoryBudgetError, match=r"^explain\.memory_mb: 30 MiB cannot hold") as err:
        auto_evals(m, torch.randn(1, 3, 224, 224), 30)
    assert "\n" not in str(err.value)
