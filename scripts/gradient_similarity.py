from xaisim import job
from xaisim.examples.compute import explain_examples

args, kwargs = job.explain_args(snakemake, job.start(snakemake))
explain_examples(*args, **kwargs, memory_mb=snakemake.resources.memory_mb)
