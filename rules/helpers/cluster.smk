# Helpers of rules/cluster.smk (its inputs, params and outputs).

# figure -> (report label, report category); each has its caption report/<figure>.rst
CLUSTER_FIGURES = {
    "dendrogram": ("dendrogram", "4 Clusters"),
    "linkages": ("linkage comparison", "4 Clusters"),
    "louvain": ("Louvain graph", "4 Clusters"),
    "heatmap": ("distance heatmap", "3 Similarity"),
    "embedding": ("PCA and MDS", "4 Clusters"),
}


def cluster_settings():
    """The cluster section, defaults (the Louvain resolution grid too) filled in by the schema."""
    return canonical(config["cluster"])


def cluster_keys():
    """method/metric/variant of every clustered matrix."""
    return [
        f"{method}/{metric}/{variant}"
        for method in METHODS
        for metric in method_metrics(method)
        for variant in RESOLVED["variants"]
    ]


def evidence_keys():
    """method/cross_deletion/all of every map method, where cross-model deletion runs."""
    written = statistics_tables()  # rules/helpers/statistics.smk
    if "cross_deletion/distance" not in written:
        return []
    return [f"{method}/{P.EVIDENCE}/all" for method in MAP_METHODS]


def clustered_keys():
    """Every clustered matrix: the explanations' similarity, then the cross-model deletion distances."""
    return cluster_keys() + evidence_keys()


def cluster_files(pattern):
    """`pattern` (clusters, summary, a figure) of every clustered matrix, in clustered_keys() order."""
    return [
        P.fill(pattern, method=method, metric=metric, variant=variant)
        for method, metric, variant in (key.split("/") for key in clustered_keys())
    ]


def cluster_report(path, caption, category, label):
    """An output of a cluster job, in the report under its matrix."""
    return report(
        path,
        caption=f"../report/{caption}.rst",
        category=category,
        subcategory="{method} / {metric} / {variant}",
        labels={
            "method": "{method}",
            "metric": "{metric}",
            "variant": "{variant}",
            "figure": label,
        },
    )
