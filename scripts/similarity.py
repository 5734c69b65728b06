from xaisim import job
from xaisim.similarity import similarity_matrices

job.start(snakemake)
p, out = snakemake.params, snakemake.output
similarity_matrices(
    list(snakemake.input),
    p.models,
    p.metric,
    p.metric_params,
    p.chunk_size,
    out_per_image=out.per_image,
    out_csv={"mean": out.mean, "std": out.std, "distance": out.distance},
)
