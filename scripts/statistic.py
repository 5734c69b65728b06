from xaisim import job
from xaisim.statistics import PART_RULE, STATISTICS, load

# one script for every statistic: the rule is named after it (rules/statistics.smk), its params are
# the function's settings and context (and the code hash); a torch statistic also gets its device
# and evaluation budget, performance knobs that are resources
name = snakemake.rule.removesuffix(PART_RULE)  # a per-model statistic's part job runs the statistic itself
run, torch = load(name), STATISTICS.info(name).get("torch", False)
device = job.start(snakemake, torch=torch)
params = {k: v for k, v in snakemake.params.items() if k != "code"}
r = snakemake.resources
knobs = {"device": device, "evals": r.eval_batch_size, "memory_mb": r.eval_memory_mb} if torch else {}
run(dict(snakemake.input.items()), dict(snakemake.output.items()), **params, **knobs)
