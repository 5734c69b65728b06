from xaisim import job
from xaisim.examples.compute import explain_examples

device = job.start(snakemake)
p, w = snakemake.params, snakemake.wildcards
explain_examples(
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
    memory_mb=snakemake.resources.memory_mb,
    target=p.target,
    seed=p.seed,
    device=device,
    out_path=snakemake.output[0],
)
