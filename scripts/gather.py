from xaisim import job
from xaisim.statistics import gather

job.start(snakemake, torch=False)
gather({k: list(v) for k, v in snakemake.input.items()}, dict(snakemake.output.items()))
