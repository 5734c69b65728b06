import pandas as pd

from xaisim import job
from xaisim.index import read_index
from xaisim.io import ArrayFile
from xaisim.plots import examples

job.start(snakemake, torch=False)
p, inp, out, method = snakemake.params, snakemake.input, snakemake.output, snakemake.wildcards.method
files = {m: ArrayFile(path) for m, path in zip(p.models, inp.maps)}
preds = {m: pd.read_csv(path, dtype={"image_id": str}) for m, path in zip(p.models, inp.predictions)}
paths = read_index(inp.index).set_index("image_id")["path"]
kernel = next(iter(files.values())).meta["params"]["kernel"]
examples.top_similar(files, preds, paths, p.n_images, f"{method} ({kernel}): most similar training images", out.top)
examples.class_scores(files, preds, f"{method} ({kernel}): mean scores per class", out.classes)
