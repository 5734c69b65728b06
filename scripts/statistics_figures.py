from xaisim import job
from xaisim.statistics.figures import draw

job.start(snakemake, torch=False)
p = snakemake.params
draw(dict(snakemake.input.items()), list(snakemake.output), keys=p.matrices, variants=p.variants,
     sanity_methods=p.sanity_methods, models=p.models, families=p.families, formats=p.formats)
