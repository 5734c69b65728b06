# Figures, tables and the summary page; every figure goes into `snakemake --report`.


rule accuracy:
    input:
        metrics=expand("results/models/{model}/metrics.json", model=MODELS),
        predictions=expand("results/predictions/{model}.csv", model=MODELS),
        centre_crop=expand("results/predictions/centre_crop/{model}.csv", model=MODELS),
    output:
        table=report(
            "results/summary/accuracy.csv",
            caption="../report/accuracy_table.rst",
            category="1 Models",
            labels={"figure": "accuracy table"},
        ),
        accuracy=report(
            "results/figures/accuracy.png",
            caption="../report/accuracy.rst",
            category="1 Models",
            labels={"figure": "accuracy"},
        ),
        agreement=report(
            "results/figures/agreement.png",
            caption="../report/agreement.rst",
            category="1 Models",
            labels={"figure": "same prediction"},
        ),
    log:
        "results/logs/accuracy.log",
    benchmark:
        "results/benchmarks/accuracy.tsv"
    conda:
        "../envs/xaisim.yaml"
    resources:
        **resources("accuracy", mem_mb=1000, runtime=10),
    params:
        models=list(MODELS),
        families=FAMILIES,
        formats=FORMATS,
        code=code("scripts/accuracy.py"),
    script:
        "../scripts/accuracy.py"


rule outcomes:
    input:
        maps=expand(
            "results/explanations/{method}/{model}.safetensors",
            method=METHODS,
            model=MODELS,
        ),
        zero_maps=expand("results/similarity/{method}/zero_maps.csv", method=METHODS),
    output:
        report(
            "results/summary/outcomes.csv",
            caption="../report/outcomes.rst",
            category="2 Explanations",
            labels={"figure": "outcomes table"},
        ),
    log:
        "results/logs/outcomes.log",
    benchmark:
        "results/benchmarks/outcomes.tsv"
    conda:
        "../envs/xaisim.yaml"
    resources:
        **resources("outcomes", mem_mb=1000, runtime=10),
    params:
        methods=list(METHODS),
        models=list(MODELS),
        code=code("scripts/outcomes.py"),
    script:
        "../scripts/outcomes.py"


rule explanation_grids:
    input:
        index="results/data/index.csv",
        subset="results/data/explain.csv",
        predictions=expand("results/predictions/{model}.csv", model=MODELS),
        maps=expand(
            "results/explanations/{method}/{model}.safetensors",
            method=MAP_METHODS,
            model=MODELS,
        ),
    output:
        selection="results/figures/explanations/selection.csv",
        grids=[
            report(
                f"results/figures/explanations/{category}.png",
                caption="../report/explanation_grid.rst",
                category="2 Explanations",
                labels={"figure": "grid", "images": category},
            )
            for category in IMAGE_CATEGORIES
        ],
        deeper=[
            report(
                f"results/figures/explanations/deeper-{category}.png",
                caption="../report/deeper.rst",
                category="2 Explanations",
                labels={"figure": "deeper explanations", "images": category},
            )
            for category in IMAGE_CATEGORIES
        ],
    log:
        "results/logs/explanation_grids.log",
    benchmark:
        "results/benchmarks/explanation_grids.tsv"
    conda:
        "../envs/xaisim.yaml"
    resources:
        **resources("explanation_grids", mem_mb=2000, runtime=10),
    params:
        models=list(MODELS),
        methods=MAP_METHODS,
        families=FAMILIES,
        normalise={m: similarity_settings(m)["normalise"] for m in MAP_METHODS},
        categories=IMAGE_CATEGORIES,
        figures=canonical(config["figures"]),
        seed=config["seed"],
        code=code("scripts/explanation_grids.py"),
    script:
        "../scripts/explanation_grids.py"


rule histograms:
    input:
        "results/similarity/{method}/{metric}/per_image.safetensors",
    output:
        report(
            "results/figures/{method}/{metric}/histograms.png",
            caption="../report/histograms.rst",
            category="3 Similarity",
            subcategory="{method} / {metric}",
            labels={
                "method": "{method}",
                "metric": "{metric}",
                "figure": "histograms",
            },
        ),
    log:
        "results/logs/histograms/{method}/{metric}.log",
    benchmark:
        "results/benchmarks/histograms/{method}/{metric}.tsv"
    conda:
        "../envs/xaisim.yaml"
    resources:
        **resources("histograms", mem_mb=2000, runtime=10),
    params:
        families=FAMILIES,
        formats=FORMATS,
        code=code("scripts/histograms.py"),
    script:
        "../scripts/histograms.py"


rule summary:
    input:
        accuracy="results/summary/accuracy.csv",
        outcomes="results/summary/outcomes.csv",
        clusters=[f"results/clusters/{key}/clusters.csv" for key in cluster_keys()],
        summaries=[f"results/clusters/{key}/summary.json" for key in cluster_keys()],
        mantel=statistic_table("mantel"),
        family_separation=statistic_table("family_separation"),
        noise_floor=statistic_table("noise_floor"),
    output:
        report(
            "results/summary.md",
            caption="../report/summary.rst",
            category="0 Summary",
            labels={"figure": "summary page"},
        ),
    log:
        "results/logs/summary.log",
    benchmark:
        "results/benchmarks/summary.tsv"
    conda:
        "../envs/xaisim.yaml"
    resources:
        **resources("summary", mem_mb=1000, runtime=10),
    params:
        matrices=cluster_keys(),
        code=code("scripts/summary.py"),
    script:
        "../scripts/summary.py"
