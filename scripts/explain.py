from xaisim import job
from xaisim.explain.compute import explain_model

device = job.start(snakemake)
p, w = snakemake.params, snakemake.wildcards
explain_model(
    snakemake.input.index,
    snakemake.input.subset,
    snakemake.input.predictions,
    p.spec,
    snakemake.input.weights,
    model_name=w.model,
    method_name=w.method,
    method=p.method,
    params=p.method_params,
    image_size=p.image_size,
    batch_size=snakemake.resources.batch_size,
    num_workers=snakemake.resources.num_workers,
    eval_batch_size=snakemake.resources.eval_batch_size,
    target=p.target,
    dtype=p.dtype,
    on_unsupported=p.on_unsupported,
    amp=p.amp,
    seed=p.seed,
    device=device,
    out_path=snakemake.output[0],
)
