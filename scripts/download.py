from xaisim import job
from xaisim.download import download

job.start(snakemake, torch=False)
archive = snakemake.params.archive
download(snakemake.config["data"]["url"], snakemake.output[0], md5=archive.get("md5"), sha256=archive.get("sha256"))
