from xaisim import job
from xaisim.plots.jobs import cluster_figures

job.start(snakemake, torch=False)
p, w = snakemake.params, snakemake.wildcards
cluster_figures(
    snakemake.input.distance,
    snakemake.input.mean,
    dict(snakemake.output.items()),
    settings=p.settings,
    families=p.families,
    models=p.models,
    formats=p.formats,
    title=f"{w.method} / {w.metric} ({w.variant} images)",
)
