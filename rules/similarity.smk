rule similarity:
    input:
        explanation_files,
    output:
        per_image="results/similarity/{method}/{metric}/per_image.safetensors",
        mean="results/similarity/{method}/{metric}/mean.csv",
        std="results/similarity/{method}/{metric}/std.csv",
        distance="results/similarity/{method}/{metric}/distance.csv",
    params:
        models=list(MODELS),
        metric=metric_key,
        metric_params=metric_params,
        chunk_size=config["similarity"]["chunk_size"],
    threads: 1
    log:
        "results/logs/similarity/{method}/{metric}.log",
    benchmark:
        "results/benchmarks/similarity/{method}/{metric}.tsv"
    conda:
        "../envs/xaisim.yaml"
    resources:
        **resources("similarity", mem_mb=4000, runtime=60),
    script:
        "../scripts/similarity.py"
