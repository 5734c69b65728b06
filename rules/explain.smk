# Methods by what the resolved config says they are (xaisim.config.resolve: `methods.<name>`),
# never by a method's name: example-based methods (xaisim.examples) score the explained images
# against training images; map methods (xaisim.explain) give maps, also re-explained by sanity.
EXAMPLE_METHODS = [n for n in METHODS if RESOLVED["methods"][n]["examples"]]
MAP_METHODS = [n for n in METHODS if n not in EXAMPLE_METHODS]


def method_key(wildcards):
    return METHODS[wildcards.method]["method"]


def method_params(wildcards):
    """The method's params, overridden by the model's own `methods.<name>` entry, defaults filled in."""
    return RESOLVED["models"][wildcards.model]["methods"][wildcards.method]


def method_maps(wildcards):
    """What determines a map method's file besides its params: the maps' storage dtype and AMP
    (forward-only methods only: for the others it changes nothing, so it is False); nothing for
    example-based methods, whose scores are stored as float32."""
    if wildcards.method in EXAMPLE_METHODS:
        return {}
    forward_only = not RESOLVED["methods"][wildcards.method]["needs"]["gradients"]
    return {"dtype": config["explain"]["dtype"], "amp": config["amp"] and forward_only}


def method_resource(maps, examples):
    """A resource of the explain job: `maps` for a map method, `examples` for an example-based one."""
    return lambda wildcards: examples if wildcards.method in EXAMPLE_METHODS else maps


def explanation_files(wildcards):
    return expand(P.EXPLANATION, method=wildcards.method, model=MODELS)


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
            mem_mb=method_resource(maps=8000, examples=4000),
            runtime=method_resource(maps=120, examples=60),
            batch_size=config["explain"]["batch_size"],
            num_workers=config["explain"]["num_workers"],
            eval_batch_size=config["explain"]["eval_batch_size"],
            memory_mb=config["explain"]["gradient_memory_mb"],
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
