from xaisim import job
from xaisim.train import train_model

device = job.start(snakemake)
p = snakemake.params
train_model(
    snakemake.input.index,
    p.spec,
    {**p.train, "num_workers": snakemake.resources.num_workers},
    image_size=p.image_size,
    seed=p.seed,
    device=device,
    amp=p.amp,
    weights_path=snakemake.output.weights,
    metrics_path=snakemake.output.metrics,
)
