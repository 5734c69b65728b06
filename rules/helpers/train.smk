# Helpers of rules/train.smk (its inputs, params and outputs).


def model_spec(wildcards):
    return RESOLVED["models"][wildcards.model]["spec"]


def pretrained_input(wildcards):
    """A local `pretrained_file` is an input of training: a new file retrains."""
    path = MODELS[wildcards.model].get("pretrained_file")
    return [path] if path else []


def train_params(wildcards):
    """Training settings that determine the weights (loader workers are a knob, see train_workers)."""
    if MODELS[wildcards.model].get("sklearn"):
        return {}  # fitted once; the train settings do not apply (xaisim.classical)
    settings = RESOLVED["models"][wildcards.model]["train"]
    return {k: v for k, v in settings.items() if k != "num_workers"}


def train_seed(wildcards):
    """A replicate's own training seed (`seeds:`), else the global one."""
    return MODELS[wildcards.model].get("seed", config["seed"])


def train_workers(wildcards):
    return RESOLVED["models"][wildcards.model]["train"]["num_workers"]
