# One rule explains every method with every model (xaisim.driver): map methods (xaisim.explain)
# and example-based methods (xaisim.examples), told apart by the resolved config.


include: "helpers/explain.smk"


rule explain:
    input:
        index=P.INDEX,
        subset=P.SUBSET,
        predictions=P.PREDICTIONS,
        weights=P.WEIGHTS,
    output:
        P.EXPLANATION,
    log:
        P.log("explain", "{method}", "{model}"),
    benchmark:
        P.benchmark("explain", "{method}", "{model}")
    conda:
        "../envs/xaisim.yaml"
    threads: torch_threads(config["explain"]["num_workers"])
    resources:
        **resources(
            "explain",
            gpu=True,
            mem_mb=method_resource(
                maps=config["explain"]["memory_mb"] + JOB_OVERHEAD_MB, examples=4000
            ),
            runtime=method_resource(maps=120, examples=60),
            batch_size=config["explain"]["batch_size"],
            num_workers=config["explain"]["num_workers"],
            eval_batch_size=config["explain"]["eval_batch_size"],
            memory_mb=config["explain"]["gradient_memory_mb"],
            eval_memory_mb=config["explain"]["memory_mb"],
            device=config["device"],
        ),
    params:
        spec=model_spec,
        method=method_key,
        method_params=method_params,
        image_size=DATA["image_size"],
        target=config["explain"]["target"],
        on_unsupported=config["explain"]["on_unsupported"],
        maps=method_maps,
        seed=config["seed"],
        code=code("scripts/explain.py", method_key),
    script:
        "../scripts/explain.py"
