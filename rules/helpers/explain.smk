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
