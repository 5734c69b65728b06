if DATA["source"] == "url":

    # compute nodes often have no internet
    localrules:
        download,
        extract,

    rule download:
        output:
            f"resources/{archive_name()}",
        log:
            "results/logs/download.log",
        benchmark:
            "results/benchmarks/download.tsv"
        conda:
            "../envs/xaisim.yaml"
        resources:
            **resources("download", mem_mb=1000, runtime=120),
        params:
            archive=archive_identity(),
            code=code("scripts/download.py"),
        script:
            "../scripts/download.py"

    rule extract:
        input:
            f"resources/{archive_name()}",
        output:
            f"resources/data/{archive_key()}/manifest.tsv",
        log:
            "results/logs/extract.log",
        benchmark:
            "results/benchmarks/extract.tsv"
        conda:
            "../envs/xaisim.yaml"
        resources:
            **resources("extract", mem_mb=1000, runtime=60),
        params:
            code=code("scripts/extract.py"),
        script:
            "../scripts/extract.py"


rule prepare_data:
    input:
        data_inputs,
    output:
        "results/data/index.csv",
    log:
        "results/logs/prepare_data.log",
    benchmark:
        "results/benchmarks/prepare_data.tsv"
    conda:
        "../envs/xaisim.yaml"
    resources:
        **resources("prepare_data", mem_mb=2000, runtime=60),
    params:
        data=data_params(),
        code=code("scripts/prepare_data.py"),
    script:
        "../scripts/prepare_data.py"


rule explain_subset:
    input:
        "results/data/index.csv",
    output:
        "results/data/explain.csv",
    log:
        "results/logs/explain_subset.log",
    benchmark:
        "results/benchmarks/explain_subset.tsv"
    conda:
        "../envs/xaisim.yaml"
    resources:
        **resources("explain_subset", mem_mb=1000, runtime=10),
    params:
        n_images=DATA["explain_images"],
        seed=config["seed"],
        code=code("scripts/explain_subset.py"),
    script:
        "../scripts/explain_subset.py"
