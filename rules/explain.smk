rule explain:
    input:
        index="results/data/index.csv",
        subset="results/data/explain.csv",
        predictions="results/predictions/{model}.csv",
        weights="results/models/{model}/weights.safetensors",
    output:
        "results/explanations/{method}/{model}.safetensors",
    log:
        "results/logs/explain/{method}/{model}.log",
    benchmark:
        "results/benchmarks/explain/{method}/{model}.tsv"
    wildcard_constraints:
        method=_one_of(MAP_METHODS),
    conda:
        "../envs/xaisim.yaml"
    threads: torch_threads(config["explain"]["num_workers"])
    resources:
        **resources(
            "explain",
            gpu=True,
            mem_mb=8000,
            runtime=120,
            batch_size=config["explain"]["batch_size"],
            num_workers=config["explain"]["num_workers"],
            device=config["device"],
        ),
    params:
        spec=model_spec,
        method=method_key,
        method_params=method_params,
        image_size=DATA["image_size"],
        target=config["explain"]["target"],
        dtype=config["explain"]["dtype"],
        seed=config["seed"],
        code=code("scripts/explain.py", method_key),
    script:
        "../scripts/explain.py"


rule plot_examples:
    input:
        maps=explanation_files,
        index="results/data/index.csv",
    output:
        report(
            "results/figures/{method}/examples.png",
            caption="../report/examples.rst",
            category="{method}",
            subcategory="examples",
        ),
    log:
        "results/logs/plot_examples/{method}.log",
    benchmark:
        "results/benchmarks/plot_examples/{method}.tsv"
    wildcard_constraints:
        method=_one_of(MAP_METHODS),
    conda:
        "../envs/xaisim.yaml"
    resources:
        **resources("plot_examples", mem_mb=2000, runtime=10),
    params:
        models=list(MODELS),
        n_images=8,
        normalise=lambda w: similarity_settings(w.method)["normalise"],
        image_size=DATA["image_size"],
        code=code("scripts/plot_examples.py"),
    script:
        "../scripts/plot_examples.py"
