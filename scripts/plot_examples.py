import numpy as np
from PIL import Image

from xaisim import job, plots
from xaisim.data import read_index
from xaisim.io import ArrayFile

job.start(snakemake)
n, models = snakemake.params.n_images, snakemake.params.models
files = [ArrayFile(p) for p in snakemake.input.maps]
ids = files[0].meta["image_ids"][:n]
maps = {m: f.read("maps", 0, len(ids)) for m, f in zip(models, files)}
size = next(iter(maps.values())).shape[1:]
paths = read_index(snakemake.input.index).set_index("image_id").loc[ids, "path"]
images = [np.asarray(Image.open(p).convert("RGB").resize(size[::-1])) / 255.0 for p in paths]
plots.examples(images, maps, ids, f"{snakemake.wildcards.method}: first {len(ids)} explained images", snakemake.output[0])
