# Dendrogram cut and Louvain communities of every model x model distance matrix, with its figures:
# each explanation's similarity, and each map method's cross-model deletion distance.


include: "helpers/cluster.smk"


rule cluster:
    input:
        distance=P.fill(P.MATRIX, stat="distance"),
        mean=P.fill(P.MATRIX, stat="mean"),
    output:
        **{
            figure: cluster_report(
                P.fill(P.CLUSTER_FIGURE, figure=figure), figure, category, label
            )
            for figure, (label, category) in CLUSTER_FIGURES.items()
        },
        clusters=cluster_report(P.CLUSTERS, "clusters", "4 Clusters", "clusters table"),
        summary=P.CLUSTER_SUMMARY,
    log:
        P.log("cluster", "{method}", "{metric}", "{variant}"),
    benchmark:
        P.benchmark("cluster", "{method}", "{metric}", "{variant}")
    conda:
        "../envs/xaisim.yaml"
    resources:
        **resources("cluster", mem_mb=1000, runtime=10),
    params:
        settings=cluster_settings(),
        families=FAMILIES,
        models=list(MODELS),
        formats=FORMATS,
        code=code("scripts/cluster.py"),
    script:
        "../scripts/cluster.py"


# metric "cross_deletion" (no metric may take that name), variant "all"
use rule cluster as cluster_evidence with:
    input:
        evidence=P.fill(P.STATISTIC, table="cross_deletion/distance"),
    wildcard_constraints:
        metric=P.EVIDENCE,
        variant="all",
