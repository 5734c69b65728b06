import numpy as np
import torch
from PIL import Image

from xaisim import job, plots
from xaisim.data import read_index
from xaisim.io import ArrayFile
from xaisim.similarity import normalise
from xaisim.similarity.stream import prepare

job.start(snakemake)
n, models = snakemake.params.n_images, snakemake.params.models
files = {m: ArrayFile(p) for m, p in zip(models, snakemake.input.maps)}
files = {m: f for m, f in files.items() if not f.meta.get("unsupported")}
ids = next(iter(files.values())).meta["image_ids"][:n]
# the maps as the similarity stage compares them (the method's normalisation) at the image size
steps = normalise.parse(snakemake.params.normalise, "normalise")
size = (snakemake.params.image_size, snakemake.params.image_size)
maps = {m: prepare(torch.from_numpy(f.read("maps", 0, len(ids))), steps, size).numpy() for m, f in files.items()}
paths = read_index(snakemake.input.index).set_index("image_id").loc[ids, "path"]
images = [np.asarray(Image.open(p).convert("RGB").resize(size[::-1])) / 255.0 for p in paths]
plots.examples(images, maps, ids, f"{snakemake.wildcards.method}: first {len(ids)} explained images", snakemake.output[0])
