from xaisim import job
from xaisim.predict import predict_model

device = job.start(snakemake)
p = snakemake.params
predict_model(
    snakemake.input.index,
    p.spec,
    snakemake.input.weights,
    image_size=p.image_size,
    batch_size=snakemake.resources.batch_size,
    num_workers=snakemake.resources.num_workers,
    device=device,
    amp=p.amp,
    out_csv=snakemake.output.predictions,
    out_crop_csv=snakemake.output.centre_crop,
    subset_path=snakemake.input.get("subset"),
    out_features=snakemake.output.get("features"),
    model_name=snakemake.wildcards.model,
)
