rule gradient_similarity:
    input:
        index="results/data/index.csv",
        subset="results/data/explain.csv",
        predictions="results/predictions/{model}.csv",
        weights="results/models/{model}/weights.safetensors",
    output:
        "results/explanations/{method}/{model}.safetensors",
    log:
        "results/logs/gradient_similarity/{method}/{model}.log",
    benchmark:
        "results/benchmarks/gradient_similarity/{method}/{model}.tsv"
    wildcard_constraints:
        method=_one_of(EXAMPLE_METHODS),
    conda:
        "../envs/xaisim.yaml"
    threads: torch_threads()
    resources:
        **resources(
            "gradient_similarity",
            gpu=True,
            mem_mb=4000,
            runtime=60,
            batch_size=config["explain"]["batch_size"],
            memory_mb=config["explain"]["gradient_memory_mb"],
            device=config["device"],
        ),
    params:
        spec=model_spec,
        method=method_key,
        method_params=method_params,
        image_size=DATA["image_size"],
        target=config["explain"]["target"],
        seed=config["seed"],
        code=code("scripts/gradient_similarity.py", method_key),
    script:
        "../scripts/gradient_similarity.py"


rule plot_gradient_similarity:
    input:
        maps=explanation_files,
        predictions=expand("results/predictions/{model}.csv", model=MODELS),
        index="results/data/index.csv",
    output:
        top=report(
            "results/figures/{method}/top_similar.png",
            caption="../report/top_similar.rst",
            category="{method}",
            subcategory="examples",
        ),
        classes=report(
            "results/figures/{method}/class_scores.png",
            caption="../report/class_scores.rst",
            category="{method}",
            subcategory="examples",
        ),
    log:
        "results/logs/plot_gradient_similarity/{method}.log",
    benchmark:
        "results/benchmarks/plot_gradient_similarity/{method}.tsv"
    wildcard_constraints:
        method=_one_of(EXAMPLE_METHODS),
    conda:
        "../envs/xaisim.yaml"
    resources:
        **resources("plot_gradient_similarity", mem_mb=2000, runtime=10),
    params:
        models=list(MODELS),
        n_images=2,
        code=code("scripts/plot_gradient_similarity.py"),
    script:
        "../scripts/plot_gradient_similarity.py"


rule identical_class:
    input:
        maps=expand(
            "results/explanations/{method}/{model}.safetensors",
            method=EXAMPLE_METHODS,
            model=MODELS,
        ),
        predictions=expand("results/predictions/{model}.csv", model=MODELS),
    output:
        report(
            "results/summary/identical_class.csv",
            caption="../report/identical_class.rst",
            category="Models",
        ),
    log:
        "results/logs/identical_class.log",
    benchmark:
        "results/benchmarks/identical_class.tsv"
    conda:
        "../envs/xaisim.yaml"
    resources:
        **resources("identical_class", mem_mb=1000, runtime=10),
    params:
        methods=list(EXAMPLE_METHODS),
        models=list(MODELS),
        code=code("scripts/identical_class.py"),
    script:
        "../scripts/identical_class.py"
