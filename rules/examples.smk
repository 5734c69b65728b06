rule plot_gradient_similarity:
    input:
        maps=explanation_files,
        predictions=expand(P.PREDICTIONS, model=MODELS),
        index=P.INDEX,
    output:
        top=report(
            P.fill(P.METHOD_FIGURE, figure="top_similar"),
            caption="../report/top_similar.rst",
            category="{method}",
            subcategory="examples",
        ),
        classes=report(
            P.fill(P.METHOD_FIGURE, figure="class_scores"),
            caption="../report/class_scores.rst",
            category="{method}",
            subcategory="examples",
        ),
    log:
        P.log("plot_gradient_similarity", "{method}"),
    benchmark:
        P.benchmark("plot_gradient_similarity", "{method}")
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
        maps=expand(P.EXPLANATION, method=EXAMPLE_METHODS, model=MODELS),
        predictions=expand(P.PREDICTIONS, model=MODELS),
    output:
        report(
            P.fill(P.SUMMARY_TABLE, table="identical_class"),
            caption="../report/identical_class.rst",
            category="Models",
        ),
    log:
        P.log("identical_class"),
    benchmark:
        P.benchmark("identical_class")
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
