# Statistics over the model x model matrices: one rule per registered statistic (xaisim.statistics),
# named after it and built from its declaration (what it reads and writes, its settings and context);
# a per-model statistic has a part rule (<name>_model, one job per model) and a rule that joins the
# parts; one job draws every statistics figure.


include: "helpers/statistics.smk"


for _name in per_model():

    rule:
        name:
            f"{_name}_model"
        input:
            **part_inputs(_name),
        output:
            **part_outputs(_name),
        log:
            P.log("statistics", _name, "{model}"),
        benchmark:
            P.benchmark("statistics", _name, "{model}")
        conda:
            "../envs/xaisim.yaml"
        threads: torch_threads()
        resources:
            **statistic_resources(_name),
        params:
            **part_params(_name),
            code=statistic_code(_name),
        script:
            "../scripts/statistic.py"

    rule:
        name:
            _name
        input:
            **gathered_parts(_name),
        output:
            **statistic_outputs(_name),
        log:
            P.log("statistics", _name),
        benchmark:
            P.benchmark("statistics", _name)
        conda:
            "../envs/xaisim.yaml"
        resources:
            **resources(_name, mem_mb=1000, runtime=5),
        params:
            code=code("scripts/gather.py"),
        script:
            "../scripts/gather.py"


for _name in (n for n in ACTIVE if n not in per_model()):

    rule:
        name:
            _name
        input:
            **statistic_inputs(_name),
        output:
            **statistic_outputs(_name),
        log:
            P.log("statistics", _name),
        benchmark:
            P.benchmark("statistics", _name)
        conda:
            "../envs/xaisim.yaml"
        threads: torch_threads() if STATISTICS[_name]["torch"] else 1
        resources:
            **statistic_resources(_name),
        params:
            **statistic_params(_name),
            code=statistic_code(_name),
        script:
            "../scripts/statistic.py"


rule statistics_figures:
    input:
        tables=[statistic_table(t) for t in statistics_tables()],
        distances=similarity_files("distance"),
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
        P.log("statistics", "figures"),
    benchmark:
        P.benchmark("statistics", "figures")
    conda:
        "../envs/xaisim.yaml"
    resources:
        **resources("statistics_figures", mem_mb=2000, runtime=10),
    params:
        figures=list(statistics_figures()),
        tables=statistics_tables(),
        explanations=cluster_keys(),
        variants=RESOLVED["variants"],
        models=list(MODELS),
        families=FAMILIES,
        formats=FORMATS,
        code=code("scripts/statistics_figures.py"),
    script:
        "../scripts/statistics_figures.py"
