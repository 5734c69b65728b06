from xaisim import job
from xaisim.similarity import aggregate, stream

job.start(snakemake)
p = snakemake.params
s = p.similarity
metrics = {name: tuple(entry) for name, entry in s["metrics"].items()}
result = stream.run(
    list(snakemake.input.maps),
    s["models"],
    normalise_steps=s["normalise"],
    grid=s["grid"],
    image_size=s.get("image_size", 0),  # used by grid "input" only
    metrics=metrics,
    zero_maps=s["zero_maps"],
    chunk_size=snakemake.resources.chunk_size,
)
predictions = dict(zip(s["models"], snakemake.input.predictions))
same = aggregate.same_prediction([predictions[m] for m in result.models], result.image_ids)
aggregate.write(
    p.method,
    result,
    same,
    metrics,
    {"method": p.method, "normalise": s["normalise"], "zero_maps": s["zero_maps"]},
    n_boot=s["bootstrap"],
    seed=s["seed"],
)
