import pandas as pd

from xaisim import job
from xaisim.io import ArrayFile, write_csv
from xaisim.statistics.agreement import agreement, comparisons, error_consistency
from xaisim.statistics.cka import cka_matrix

job.start(snakemake, torch=False)
i, out, models = snakemake.input, snakemake.output, snakemake.params.models
preds = {m: pd.read_csv(p, dtype={"image_id": str}) for m, p in zip(models, i.predictions)}
ids = list(pd.read_csv(i.subset, dtype={"image_id": str})["image_id"])
same_class, totals = comparisons(preds, ids)
write_csv(agreement(preds), out.same_prediction, float_format="%.8g")
write_csv(same_class, out.same_class)
write_csv(totals, out.comparisons, index=False)
write_csv(error_consistency(preds), out.error_consistency, float_format="%.8g")
features = {}
for model, path in zip(models, i.features):
    f = ArrayFile(path)
    if f.meta["image_ids"] != ids:
        raise ValueError(f"{path}: features of other images than {i.subset}; rerun predict for {model}")
    features[model] = f.read("features")
write_csv(cka_matrix(features), out.cka, float_format="%.8g")
