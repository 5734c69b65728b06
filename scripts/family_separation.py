from xaisim import job
from xaisim.io import read_matrix, write_csv
from xaisim.statistics.noise_floor import noise_floor_table
from xaisim.statistics.separation import separation_table

job.start(snakemake, torch=False)
p, out = snakemake.params, snakemake.output
distances = {tuple(key.split("/")): read_matrix(path) for key, path in zip(p.explanations, snakemake.input)}
table = separation_table(distances, p.families, n_perm=p.permutations, seed=p.seed)
write_csv(table, out.separation, index=False, float_format="%.6g")
write_csv(noise_floor_table(distances, p.replicate_of), out.noise_floor, index=False, float_format="%.8g")
