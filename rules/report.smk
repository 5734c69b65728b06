# Figures, tables and the summary page; every figure goes into `snakemake --report`.

from xaisim.selection import CATEGORIES

IMAGE_CATEGORIES = (
    list(CATEGORIES) if config["figures"]["images"] == "auto" else ["selected"]
)


rule accuracy:
    input:
        metrics=expand(P.TRAIN_METRICS, model=MODELS),
        predictions=expand(P.PREDICTIONS, model=MODELS),
        centre_crop=expand(P.CENTRE_CROP, model=MODELS),
    output:
        table=report(
            P.fill(P.SUMMARY_TABLE, table="accuracy"),
            caption="../report/accuracy_table.rst",
            category="1 Models",
            labels={"figure": "accuracy table"},
        ),
        accuracy=report(
            P.fill(P.MODELS_FIGURE, figure="accuracy"),
            caption="../report/accuracy.rst",
            category="1 Models",
            labels={"figure": "accuracy"},
        ),
        agreement=report(
            P.fill(P.MODELS_FIGURE, figure="agreement"),
            caption="../report/agreement.rst",
            category="1 Models",
            labels={"figure": "same prediction"},
        ),
    log:
        P.log("accuracy"),
    benchmark:
        P.benchmark("accuracy")
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
        maps=expand(P.EXPLANATION, method=METHODS, model=MODELS),
        zero_maps=expand(P.ZERO_MAPS, method=METHODS),
    output:
        report(
            P.fill(P.SUMMARY_TABLE, table="outcomes"),
            caption="../report/outcomes.rst",
            category="2 Explanations",
            labels={"figure": "outcomes table"},
        ),
    log:
        P.log("outcomes"),
    benchmark:
        P.benchmark("outcomes")
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
        index=P.INDEX,
        subset=P.SUBSET,
        predictions=expand(P.PREDICTIONS, model=MODELS),
        maps=expand(P.EXPLANATION, method=MAP_METHODS, model=MODELS),
        chosen=[] if config["figures"]["images"] == "auto" else P.FIGURE_IMAGES,
    output:
        selection=P.SELECTION,
        grids=[
            report(
                P.fill(P.EXPLANATION_FIGURE, figure=category),
                caption="../report/explanation_grid.rst",
                category="2 Explanations",
                labels={"figure": "grid", "images": category},
            )
            for category in IMAGE_CATEGORIES
        ],
        deeper=[
            report(
                P.fill(P.EXPLANATION_FIGURE, figure=f"deeper-{category}"),
                caption="../report/deeper.rst",
                category="2 Explanations",
                labels={"figure": "deeper explanations", "images": category},
            )
            for category in IMAGE_CATEGORIES
        ],
    log:
        P.log("explanation_grids"),
    benchmark:
        P.benchmark("explanation_grids")
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
        P.PER_IMAGE,
    output:
        report(
            P.fill(P.METRIC_FIGURE, figure="histograms"),
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
        P.log("histograms", "{method}", "{metric}"),
    benchmark:
        P.benchmark("histograms", "{method}", "{metric}")
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
        **trust_tables(),
        accuracy=P.fill(P.SUMMARY_TABLE, table="accuracy"),
        outcomes=P.fill(P.SUMMARY_TABLE, table="outcomes"),
        clusters=cluster_files(P.CLUSTERS),
        summaries=cluster_files(P.CLUSTER_SUMMARY),
        mantel=statistic_table("mantel"),
        family_separation=statistic_table("family_separation"),
        noise_floor=statistic_table("noise_floor"),
    output:
        report(
            P.SUMMARY,
            caption="../report/summary.rst",
            category="0 Summary",
            labels={"figure": "summary page"},
        ),
    log:
        P.log("summary"),
    benchmark:
        P.benchmark("summary")
    conda:
        "../envs/xaisim.yaml"
    resources:
        **resources("summary", mem_mb=1000, runtime=10),
    params:
        matrices=clustered_keys(),
        code=code("scripts/summary.py"),
    script:
        "../scripts/summary.py"
