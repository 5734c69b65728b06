rule cluster:
    input:
        distance="results/similarity/{method}/{metric}/{variant}/distance.csv",
    output:
        communities="results/clusters/{method}/{metric}/{variant}/communities.csv",
        dendrogram=report(
            "results/figures/{method}/{metric}/{variant}/dendrogram.png",
            caption="../report/dendrogram.rst",
            category="{method}",
            subcategory="{metric} ({variant})",
        ),
        louvain=report(
            "results/figures/{method}/{metric}/{variant}/louvain.png",
            caption="../report/louvain.rst",
            category="{method}",
            subcategory="{metric} ({variant})",
        ),
        heatmap=report(
            "results/figures/{method}/{metric}/{variant}/heatmap.png",
            caption="../report/heatmap.rst",
            category="{method}",
            subcategory="{metric} ({variant})",
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
        cluster=canonical(config["cluster"]),
        code=code("scripts/cluster.py"),
    script:
        "../scripts/cluster.py"
