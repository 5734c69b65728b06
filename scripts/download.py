from xaisim import job
from xaisim.download import download

job.start(snakemake)
p = snakemake.params
download(p.url, snakemake.output[0], md5=p.md5, sha256=p.sha256)
