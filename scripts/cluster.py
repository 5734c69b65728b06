from xaisim import job
from xaisim.io import read_matrix
from xaisim.plots.jobs import cluster_figures, evidence_distance

job.start(snakemake, torch=False)
i, p, w = snakemake.input, snakemake.params, snakemake.wildcards
if "evidence" in i.keys():  # a map method's cross-model deletion distance
    distance, mean = evidence_distance(i.evidence, w.method), None
    title = f"{w.method} / cross-model deletion"
else:
    distance, mean = read_matrix(i.distance), read_matrix(i.mean)
    title = f"{w.method} / {w.metric} ({w.variant} images)"
cluster_figures(
    distance,
    mean,
    dict(snakemake.output.items()),
    settings=p.settings,
    families=p.families,
    models=p.models,
    formats=p.formats,
    title=title,
)
