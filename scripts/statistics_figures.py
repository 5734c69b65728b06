from xaisim import job
from xaisim.plots.statistics import StageTables, draw

job.start(snakemake, torch=False)
i, p = snakemake.input, snakemake.params
data = StageTables(dict(zip(p.tables, i.tables)), dict(zip(p.explanations, i.distances)), p.variants, p.models,
                   p.families, p.formats)
draw(dict(zip(p.figures, snakemake.output)), data)
