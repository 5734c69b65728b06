# Statistics over the model x model matrices, in few jobs (each job costs its imports): agreement
# and CKA, all Mantel tests, family separation with the noise floor, image-count and bootstrap
# resampling, the randomisation sanity test, and one job for every statistics figure.


rule agreement:
    input:
        subset="results/data/explain.csv",
        predictions=expand("results/predictions/{model}.csv", model=MODELS),
        features=expand("results/features/{model}.safetensors", model=MODELS),
    output:
        same_prediction="results/statistics/agreement/same_prediction.csv",
        same_class=report(
            "results/statistics/agreement/same_class_counts.csv",
            caption="../report/statistics_tables.rst",
            category="5 Statistics",
            subcategory="tables",
            labels={"table": "same-class counts"},
        ),
        comparisons="results/statistics/agreement/comparisons.csv",
        error_consistency="results/statistics/agreement/error_consistency.csv",
        cka="results/statistics/cka.csv",
    log:
        "results/logs/statistics/agreement.log",
    benchmark:
        "results/benchmarks/statistics/agreement.tsv"
    conda:
        "../envs/xaisim.yaml"
    resources:
        **resources("agreement", mem_mb=2000, runtime=10),
    params:
        models=list(MODELS),
        code=code("scripts/agreement.py"),
    script:
        "../scripts/agreement.py"


rule mantel:
    input:
        agreement="results/statistics/agreement/same_class_counts.csv",
        error_consistency="results/statistics/agreement/error_consistency.csv",
        cka="results/statistics/cka.csv",
        means=similarity_files("mean"),
        distances=similarity_files("distance"),
    output:
        report(
            "results/statistics/mantel.csv",
            caption="../report/statistics_tables.rst",
            category="5 Statistics",
            subcategory="tables",
            labels={"table": "Mantel tests"},
        ),
    log:
        "results/logs/statistics/mantel.log",
    benchmark:
        "results/benchmarks/statistics/mantel.tsv"
    conda:
        "../envs/xaisim.yaml"
    resources:
        **resources("mantel", mem_mb=2000, runtime=30),
    params:
        explanations=cluster_keys(),
        permutations=STATS["permutations"],
        seed=STATS["seed"],
        code=code("scripts/mantel.py"),
    script:
        "../scripts/mantel.py"


rule family_separation:
    input:
        similarity_files("distance"),
    output:
        separation=report(
            "results/statistics/family_separation.csv",
            caption="../report/statistics_tables.rst",
            category="5 Statistics",
            subcategory="tables",
            labels={"table": "family separation"},
        ),
        noise_floor=report(
            "results/statistics/noise_floor.csv",
            caption="../report/statistics_tables.rst",
            category="5 Statistics",
            subcategory="tables",
            labels={"table": "noise floor"},
        ),
    log:
        "results/logs/statistics/family_separation.log",
    benchmark:
        "results/benchmarks/statistics/family_separation.tsv"
    conda:
        "../envs/xaisim.yaml"
    resources:
        **resources("family_separation", mem_mb=1000, runtime=10),
    params:
        explanations=cluster_keys(),
        families=FAMILIES,
        replicate_of=replicates(),
        permutations=STATS["permutations"],
        seed=STATS["seed"],
        code=code("scripts/family_separation.py"),
    script:
        "../scripts/family_separation.py"


rule resampling:
    input:
        [
            f"results/similarity/{key}/per_image.safetensors"
            for key in method_metric_keys()
        ],
    output:
        image_count="results/statistics/image_count.csv",
        variance="results/statistics/image_count_variance.csv",
        stability=report(
            "results/statistics/stability.csv",
            caption="../report/statistics_tables.rst",
            category="5 Statistics",
            subcategory="tables",
            labels={"table": "cluster stability"},
        ),
    log:
        "results/logs/statistics/resampling.log",
    benchmark:
        "results/benchmarks/statistics/resampling.tsv"
    conda:
        "../envs/xaisim.yaml"
    resources:
        **resources("resampling", mem_mb=2000, runtime=30),
    params:
        matrices=method_metric_keys(),
        image_counts=STATS["image_counts"],
        repetitions=STATS["repetitions"],
        bootstrap=STATS["bootstrap"],
        cluster=cluster_settings(),
        seed=STATS["seed"],
        code=code("scripts/resampling.py"),
    script:
        "../scripts/resampling.py"


rule sanity:
    input:
        index="results/data/index.csv",
        subset="results/data/explain.csv",
        predictions=expand("results/predictions/{model}.csv", model=MODELS),
        weights=expand("results/models/{model}/weights.safetensors", model=MODELS),
    output:
        report(
            "results/statistics/sanity.csv",
            caption="../report/statistics_tables.rst",
            category="5 Statistics",
            subcategory="tables",
            labels={"table": "randomisation sanity"},
        ),
    log:
        "results/logs/statistics/sanity.log",
    benchmark:
        "results/benchmarks/statistics/sanity.tsv"
    conda:
        "../envs/xaisim.yaml"
    threads: torch_threads()
    resources:
        **resources(
            "sanity", gpu=True, mem_mb=8000, runtime=60, device=config["device"]
        ),
    params:
        specs={model: RESOLVED["models"][model]["spec"] for model in MODELS},
        methods=sanity_params(),
        image_size=DATA["image_size"],
        images=STATS["sanity"]["images"],
        depths=STATS["sanity"]["depths"],
        seed=STATS["seed"],
        code=code("scripts/sanity.py", *map_method_keys()),
    script:
        "../scripts/sanity.py"


rule statistics_figures:
    input:
        **statistics_figure_inputs(),
    output:
        [
            report(
                path,
                caption=f"../report/statistics_{name.split('/')[0]}.rst",
                category="5 Statistics",
                subcategory=name.split("/", 1)[-1],
                labels={
                    "figure": name.split("/")[0],
                    "matrix": name.split("/", 1)[-1],
                },
            )
            for name, path in statistics_figures().items()
        ],
    log:
        "results/logs/statistics/figures.log",
    benchmark:
        "results/benchmarks/statistics/figures.tsv"
    conda:
        "../envs/xaisim.yaml"
    resources:
        **resources("statistics_figures", mem_mb=2000, runtime=10),
    params:
        matrices=method_metric_keys(),
        variants=RESOLVED["variants"],
        sanity_methods=sanity_methods(),
        models=list(MODELS),
        families=FAMILIES,
        formats=FORMATS,
        code=code("scripts/statistics_figures.py"),
    script:
        "../scripts/statistics_figures.py"
