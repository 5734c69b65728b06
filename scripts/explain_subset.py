from xaisim import job
from xaisim.index import read_index
from xaisim.io import write_csv
from xaisim.subset import explain_subset

job.start(snakemake)
subset = explain_subset(read_index(snakemake.input[0]), snakemake.params.n_images, snakemake.params.seed)
write_csv(subset[["image_id", "label", "class_name"]], snakemake.output[0], index=False)
