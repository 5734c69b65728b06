"""The start-cost line every torch job logs before its first forward."""

import json
import re
import subprocess
import sys

SCRIPT = """
import json, logging, sys, time
logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(name)s: %(message)s")
t = time.time()
while time.time() - t < 0.3:  # CPU work the cost must include
    pass
time.sleep(0.7)  # idle time that counts as wall time only
from xaisim.runtime import log_start_cost
print(json.dumps(log_start_cost("probe")))
"""


def test_start_cost_counts_wall_time_since_process_start_and_cpu_time_so_far():
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True)
    cost = json.loads(done.stdout)
    assert cost["wall_s"] >= 1.0  # 0.3 s busy + 0.7 s asleep, after the interpreter started
    assert 0.3 <= cost["cpu_s"] < cost["wall_s"] - 0.5  # the sleep is not CPU time
    line = re.search(r"xaisim\.start: start cost before the first forward \(probe\): ([\d.]+) s wall, ([\d.]+) s CPU",
                     done.stderr)
    assert line and abs(float(line[1]) - cost["wall_s"]) < 0.01
