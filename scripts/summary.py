from xaisim import job
from xaisim.summary import write_summary

job.start(snakemake, torch=False)
i, p = snakemake.input, snakemake.params
write_summary(
    i.accuracy,
    {tuple(key.split("/")): (t, s) for key, t, s in zip(p.matrices, i.clusters, i.summaries)},
    i.outcomes,
    {name: path for name, path in i.items() if name not in ("accuracy", "outcomes", "clusters", "summaries")},
    snakemake.output[0],
)
