rule cluster:
    input:
        distance="results/similarity/{method}/{metric}/{variant}/distance.csv",
        mean="results/similarity/{method}/{metric}/{variant}/mean.csv",
    output:
        clusters=report(
            "results/clusters/{method}/{metric}/{variant}/clusters.csv",
            caption="../report/clusters.rst",
            category="4 Clusters",
            subcategory="{method} / {metric} / {variant}",
            labels={
                "method": "{method}",
                "metric": "{metric}",
                "variant": "{variant}",
                "figure": "clusters table",
            },
        ),
        summary="results/clusters/{method}/{metric}/{variant}/summary.json",
        dendrogram=report(
            "results/figures/{method}/{metric}/{variant}/dendrogram.png",
            caption="../report/dendrogram.rst",
            category="4 Clusters",
            subcategory="{method} / {metric} / {variant}",
            labels={
                "method": "{method}",
                "metric": "{metric}",
                "variant": "{variant}",
                "figure": "dendrogram",
            },
        ),
        linkages=report(
            "results/figures/{method}/{metric}/{variant}/linkages.png",
            caption="../report/linkages.rst",
            category="4 Clusters",
            subcategory="{method} / {metric} / {variant}",
            labels={
                "method": "{method}",
                "metric": "{metric}",
                "variant": "{variant}",
                "figure": "linkage comparison",
            },
        ),
        louvain=report(
            "results/figures/{method}/{metric}/{variant}/louvain.png",
            caption="../report/louvain.rst",
            category="4 Clusters",
            subcategory="{method} / {metric} / {variant}",
            labels={
                "method": "{method}",
                "metric": "{metric}",
                "variant": "{variant}",
                "figure": "Louvain graph",
            },
        ),
        heatmap=report(
            "results/figures/{method}/{metric}/{variant}/heatmap.png",
            caption="../report/heatmap.rst",
            category="3 Similarity",
            subcategory="{method} / {metric} / {variant}",
            labels={
                "method": "{method}",
                "metric": "{metric}",
                "variant": "{variant}",
                "figure": "distance heatmap",
            },
        ),
        embedding=report(
            "results/figures/{method}/{metric}/{variant}/embedding.png",
            caption="../report/embedding.rst",
            category="4 Clusters",
            subcategory="{method} / {metric} / {variant}",
            labels={
                "method": "{method}",
                "metric": "{metric}",
                "variant": "{variant}",
                "figure": "PCA and MDS",
            },
        ),
    log:
        "results/logs/cluster/{method}/{metric}/{variant}.log",
    benchmark:
        "results/benchmarks/cluster/{method}/{metric}/{variant}.tsv"
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
