from xaisim import job, plots
from xaisim.cluster import cluster_table
from xaisim.io import read_matrix, write_csv

job.start(snakemake)
c, out, w = snakemake.params.cluster, snakemake.output, snakemake.wildcards
distance = read_matrix(snakemake.input.distance)
table, z = cluster_table(distance, c["linkage"], c["resolution"], c["seed"])
write_csv(table, out.communities, index=False)
title = f"{w.method} / {w.metric} ({w.variant} images)"
plots.dendrogram(z, list(distance.index), f"{title}: {c['linkage']} linkage", out.dendrogram)
plots.community_graph(distance, dict(zip(table.model, table.community)), title, c["seed"], out.louvain)
plots.heatmap(distance, list(table.sort_values("leaf_order").model), f"{title}: distance", out.heatmap)
