# One job per method: every metric of the method in one pass over the models' maps.
for _method in METHODS:

    rule:
        name:
            "similarity_" + re.sub(r"\W", "_", _method)
        input:
            maps=expand(
                "results/explanations/{method}/{model}.safetensors",
                method=_method,
                model=MODELS,
            ),
            predictions=expand("results/predictions/{model}.csv", model=MODELS),
        output:
            similarity_paths(_method),
        log:
            f"results/logs/similarity/{_method}.log",
        benchmark:
            f"results/benchmarks/similarity/{_method}.tsv"
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
