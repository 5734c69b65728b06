# One job per method: every metric of the method in one pass over the models' maps.


include: "helpers/similarity.smk"


for _method in METHODS:

    rule:
        name:
            re.sub(r"\W", "_", f"similarity_{_method}")
        input:
            maps=expand(P.EXPLANATION, method=_method, model=MODELS),
            predictions=expand(P.PREDICTIONS, model=MODELS),
        output:
            similarity_paths(_method),
        log:
            P.log("similarity", _method),
        benchmark:
            P.benchmark("similarity", _method)
        conda:
            "../envs/xaisim.yaml"
        threads: config["threads"]
        resources:
            **resources(
                "similarity",
                mem_mb=4000,
                runtime=60,
                chunk_size=config["similarity"]["chunk_size"],
            ),
        params:
            method=_method,
            similarity=similarity_params(_method),
            code=code("scripts/similarity.py", *metric_keys(_method)),
        script:
            "../scripts/similarity.py"
