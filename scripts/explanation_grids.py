from xaisim import job
from xaisim.plots.jobs import explanation_grids

job.start(snakemake)
i, o, p = snakemake.input, snakemake.output, snakemake.params
categories = p.categories
explanation_grids(
    i.index,
    i.subset,
    i.predictions,
    {m: dict(zip(p.models, i.maps[k * len(p.models) :])) for k, m in enumerate(p.methods)},
    {
        "selection": o.selection,
        "grids": dict(zip(categories, o.grids)),
        "deeper": dict(zip(categories, o.deeper)),
    },
    models=p.models,
    methods=p.methods,
    families=p.families,
    figures=p.figures,
    normalise=p.normalise,
    seed=p.seed,
    chosen_path=i.chosen or None,
)
