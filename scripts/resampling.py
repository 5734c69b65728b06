import pandas as pd

from xaisim import job
from xaisim.io import ArrayFile, write_csv
from xaisim.statistics.image_count import image_count_influence
from xaisim.statistics.stability import cluster_stability

job.start(snakemake, torch=False)
p, out, c = snakemake.params, snakemake.output, snakemake.params.cluster
sums, cells, stability = [], [], []
for key, path in zip(p.matrices, snakemake.input):
    method, metric = key.split("/")
    f = ArrayFile(path)
    sims, models = f.read("similarity"), f.meta["models"]
    s, v = image_count_influence(sims, models, p.image_counts, p.repetitions, p.seed)
    b = cluster_stability(sims, models, n_boot=p.bootstrap, k=c["k"], linkage=c["linkage"], resolution=c["resolution"],
                          resolution_grid=c["resolution_grid"], cluster_seed=c["seed"], seed=p.seed)
    for table, tables in ((s, sums), (v, cells), (b, stability)):
        tables.append(table.assign(method=method, metric=metric)[["method", "metric", *table.columns]])
write_csv(pd.concat(sums, ignore_index=True), out.image_count, index=False, float_format="%.8g")
write_csv(pd.concat(cells, ignore_index=True), out.variance, index=False, float_format="%.8g")
write_csv(pd.concat(stability, ignore_index=True), out.stability, index=False, float_format="%.6g")
