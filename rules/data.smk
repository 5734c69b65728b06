# The dataset as an index CSV, and the explained subset every model and method shares.


include: "helpers/data.smk"


if DATA["source"] == "url":

    # compute nodes often have no internet
    localrules:
        download,
        extract,

    rule download:
        output:
            P.fill(P.ARCHIVE, archive=archive_name()),
        log:
            P.log("download"),
        benchmark:
            P.benchmark("download")
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
            P.fill(P.ARCHIVE, archive=archive_name()),
        output:
            P.fill(P.MANIFEST, key=archive_key()),
        log:
            P.log("extract"),
        benchmark:
            P.benchmark("extract")
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
        P.INDEX,
    log:
        P.log("prepare_data"),
    benchmark:
        P.benchmark("prepare_data")
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
        P.INDEX,
    output:
        P.SUBSET,
    log:
        P.log("explain_subset"),
    benchmark:
        P.benchmark("explain_subset")
    priority: 50
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


# figures.images (a list of ids), checked against the explained subset as soon as it exists:
# a wrong id fails here, before training, not in the explanation grids after every explanation.
rule figure_images:
    input:
        P.SUBSET,
    output:
        P.FIGURE_IMAGES,
    log:
        P.log("figure_images"),
    benchmark:
        P.benchmark("figure_images")
    priority: 50
    conda:
        "../envs/xaisim.yaml"
    resources:
        **resources("figure_images", mem_mb=1000, runtime=10),
    params:
        images=config["figures"]["images"],
        code=code("scripts/figure_images.py"),
    script:
        "../scripts/figure_images.py"
