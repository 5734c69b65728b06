import pandas as pd

from xaisim import job
from xaisim.io import write_csv
from xaisim.selection import configured

job.start(snakemake, torch=False)
subset = pd.read_csv(snakemake.input[0], dtype={"image_id": str})
write_csv(configured(subset, snakemake.params.images), snakemake.output[0], index=False)
