from xaisim import job
from xaisim.plots.jobs import accuracy

job.start(snakemake, torch=False)
i, p = snakemake.input, snakemake.params
accuracy(
    i.metrics,
    i.predictions,
    i.centre_crop,
    dict(snakemake.output.items()),
    models=p.models,
    families=p.families,
    formats=p.formats,
)
