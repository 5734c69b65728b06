from xaisim import job
from xaisim.driver import explain_model

args, kwargs = job.explain_args(snakemake, job.start(snakemake))
r, p = snakemake.resources, snakemake.params
explain_model(
    *args,
    **kwargs,
    on_unsupported=p.on_unsupported,
    **p.maps,
    num_workers=r.num_workers,
    evals=r.eval_batch_size,
    memory_mb=r.memory_mb,
    eval_memory_mb=r.eval_memory_mb,
)
