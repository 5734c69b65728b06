from xaisim import job
from xaisim.plots.jobs import outcomes

job.start(snakemake, torch=False)
p, i = snakemake.params, snakemake.input
outcomes(
    {m: dict(zip(p.models, i.maps[k * len(p.models) :])) for k, m in enumerate(p.methods)},
    dict(zip(p.methods, i.zero_maps)),
    snakemake.output[0],
)
