from xaisim import job
from xaisim.plots.jobs import histograms

job.start(snakemake, torch=False)
p, w = snakemake.params, snakemake.wildcards
histograms(
    snakemake.input[0],
    snakemake.output[0],
    families=p.families,
    formats=p.formats,
    title=f"{w.method} / {w.metric}: per-image similarity of each model pair",
)
