if DATA["source"] == "url":

    rule download:
        output:
            protected(f"resources/{archive_name()}"),
        log:
            "results/logs/download.log",
        benchmark:
            "results/benchmarks/download.tsv"
        conda:
            "../envs/xaisim.yaml"
        resources:
            **resources("download", mem_mb=1000, runtime=120),
        params:
            url=DATA.get("url"),
            md5=DATA.get("md5"),
            sha256=DATA.get("sha256"),
        script:
            "../scripts/download.py"


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
        seed=config["seed"],
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
    script:
        "../scripts/explain_subset.py"
