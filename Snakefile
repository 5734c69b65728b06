from snakemake.utils import min_version

min_version("9.0")


configfile: "config.yaml"


report: "report/workflow.rst"


include: "rules/common.smk"
include: "rules/data.smk"
include: "rules/train.smk"
include: "rules/explain.smk"
include: "rules/examples.smk"
include: "rules/similarity.smk"
include: "rules/cluster.smk"
include: "rules/statistics.smk"
include: "rules/report.smk"


# On a cluster these run on the submitting node (cheap; the download's are in rules/data.smk).
localrules:
    all,
    explain_subset,
    figure_images,
    accuracy,
    cluster,
    cluster_evidence,
    histograms,
    outcomes,
    summary,
    agreement,
    mantel,
    family_separation,
    resampling,
    statistics_figures,


rule all:
    default_target: True
    input:
        final_outputs(),
