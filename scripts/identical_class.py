import pandas as pd

from xaisim import job
from xaisim.identical_class import identical_class
from xaisim.io import ArrayFile, write_csv

job.start(snakemake, torch=False)
p, inp = snakemake.params, snakemake.input
preds = {m: pd.read_csv(path, dtype={"image_id": str}) for m, path in zip(p.models, inp.predictions)}
per_method = len(p.models)
tables = [
    identical_class({m: ArrayFile(path) for m, path in zip(p.models, inp.maps[i * per_method : (i + 1) * per_method])}, preds)
    for i in range(len(p.methods))
]
write_csv(pd.concat(tables, ignore_index=True), snakemake.output[0], index=False, float_format="%.4f")
