rule similarity:
    input:
        explanation_files,
    output:
        per_image="results/similarity/{method}/{metric}/per_image.safetensors",
        mean="results/similarity/{method}/{metric}/mean.csv",
        std="results/similarity/{method}/{metric}/std.csv",
        distance="results/similarity/{method}/{metric}/distance.csv",
    log:
        "results/logs/similarity/{method}/{metric}.log",
    benchmark:
        "results/benchmarks/similarity/{method}/{metric}.tsv"
    conda:
        "../envs/xaisim.yaml"
    threads: 1
    resources:
        **resources("similarity", mem_mb=4000, runtime=60),
    params:
        models=list(MODELS),
        metric=metric_key,
        metric_params=metric_params,
        chunk_size=config["similarity"]["chunk_size"],
    script:
        "../scripts/similarity.py"
