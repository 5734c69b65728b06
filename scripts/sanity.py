from xaisim import job
from xaisim.io import write_csv
from xaisim.statistics.sanity import sanity_table

device = job.start(snakemake)
p, i = snakemake.params, snakemake.input
models = {m: {"spec": p.specs[m], "weights": w, "predictions": pr} for m, w, pr in zip(p.specs, i.weights, i.predictions)}
evals = snakemake.config["explain"]["eval_batch_size"]  # a performance knob, not a param
table = sanity_table(models, p.methods, index_path=i.index, subset_path=i.subset, image_size=p.image_size,
                     images=p.images, depths=p.depths, seed=p.seed, evals=evals, device=device)
write_csv(table, snakemake.output[0], index=False, float_format="%.6g")
