from xaisim import job
from xaisim.explain.compute import explain_model

args, kwargs = job.explain_args(snakemake, job.start(snakemake))
r, p = snakemake.resources, snakemake.params
explain_model(
    *args,
    **kwargs,
    num_workers=r.num_workers,
    eval_batch_size=r.eval_batch_size,
    dtype=p.dtype,
    on_unsupported=p.on_unsupported,
    amp=p.amp,
)
