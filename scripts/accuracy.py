import json

import pandas as pd

from xaisim import job, plots
from xaisim.io import write_csv
from xaisim.predict import agreement

job.start(snakemake)
models, inp = snakemake.params.models, snakemake.input
preds = {m: pd.read_csv(p, dtype={"image_id": str}) for m, p in zip(models, inp.predictions)}
metrics = [json.loads(open(p).read()) for p in inp.metrics]
table = pd.DataFrame(
    {
        "model": models,
        "arch": [m["arch"] for m in metrics],
        # a pretrained head (epochs: 0) predicts its own classes: accuracy on the dataset's is undefined
        "val_accuracy": [
            float("nan") if m.get("head") == "pretrained" else float((p["pred"] == p["label"]).mean())
            for m, p in zip(metrics, preds.values())
        ],
        "train_seconds": [m["train_seconds"] for m in metrics],
        "epochs": [m["epochs"] for m in metrics],
    }
)
write_csv(table, snakemake.output.table, index=False, float_format="%.4f")
plots.heatmap(agreement(preds), models, "same prediction on val", snakemake.output.agreement, "fraction of images", "viridis")
