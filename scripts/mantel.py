from xaisim import job
from xaisim.io import read_matrix, write_csv
from xaisim.statistics.mantel import REFERENCES, mantel_table, pairs_to_test

job.start(snakemake, torch=False)
i, p = snakemake.input, snakemake.params
matrices = {name: read_matrix(i[name]) for name in REFERENCES}
for key, mean, distance in zip(p.explanations, i.means, i.distances):
    matrices[f"{key}/mean"], matrices[f"{key}/distance"] = read_matrix(mean), read_matrix(distance)
pairs = pairs_to_test(REFERENCES, [tuple(key.split("/")) for key in p.explanations])
table = mantel_table(matrices, pairs, n_perm=p.permutations, seed=p.seed)
write_csv(table, snakemake.output[0], index=False, float_format="%.6g")
