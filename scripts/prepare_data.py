from pathlib import Path

from xaisim import job
from xaisim.index import digits_index, imagefolder_index, write_index

job.start(snakemake)
data, out = snakemake.params.data, Path(snakemake.output[0])
if data["source"] == "digits":
    index = digits_index(out.parent, data["image_size"], data["val_fraction"], data["seed"])
else:
    if data["source"] == "url":
        root = Path(snakemake.input[0]).parent / "files" / data.get("subdir", "")
    else:
        root = Path(data["path"])
    index = imagefolder_index(root, out.parent)
write_index(index, out)
