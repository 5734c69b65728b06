from pathlib import Path

from xaisim import job
from xaisim.download import extract, write_manifest

job.start(snakemake, torch=False)
out = Path(snakemake.output[0])
write_manifest(extract(snakemake.input[0], out.parent / "files"), out)
