import pandas as pd

from xaisim import job
from xaisim.examples import report
from xaisim.index import read_index

job.start(snakemake)
p, inp, out, method = snakemake.params, snakemake.input, snakemake.output, snakemake.wildcards.method
files = report.read(inp.maps, p.models)
preds = {m: pd.read_csv(path, dtype={"image_id": str}) for m, path in zip(p.models, inp.predictions)}
paths = read_index(inp.index).set_index("image_id")["path"]
kernel = next(iter(files.values())).meta["params"]["kernel"]
report.top_similar(files, preds, paths, p.n_images, f"{method} ({kernel}): most similar training images", out.top)
report.class_scores(files, preds, f"{method} ({kernel}): mean scores per class", out.classes)
