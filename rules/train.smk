rule train:
    input:
        index="results/data/index.csv",
        pretrained=pretrained_input,
    output:
        weights="results/models/{model}/weights.safetensors",
        metrics="results/models/{model}/metrics.json",
    log:
        "results/logs/train/{model}.log",
    benchmark:
        "results/benchmarks/train/{model}.tsv"
    conda:
        "../envs/xaisim.yaml"
    threads: torch_threads(train_workers)
    resources:
        **resources(
            "train",
            gpu=True,
            mem_mb=8000,
            runtime=120,
            num_workers=train_workers,
            device=config["device"],
        ),
    params:
        spec=model_spec,
        train=train_params,
        image_size=DATA["image_size"],
        seed=train_seed,
        amp=config["amp"],
        code=code("scripts/train.py"),
    script:
        "../scripts/train.py"


rule predict:
    input:
        index="results/data/index.csv",
        subset="results/data/explain.csv",
        weights="results/models/{model}/weights.safetensors",
    output:
        predictions="results/predictions/{model}.csv",
        centre_crop="results/predictions/centre_crop/{model}.csv",
        features="results/features/{model}.safetensors",
    log:
        "results/logs/predict/{model}.log",
    benchmark:
        "results/benchmarks/predict/{model}.tsv"
    conda:
        "../envs/xaisim.yaml"
    threads: torch_threads(config["explain"]["num_workers"])
    resources:
        **resources(
            "predict",
            gpu=True,
            mem_mb=4000,
            runtime=30,
            batch_size=config["explain"]["batch_size"],
            num_workers=config["explain"]["num_workers"],
            device=config["device"],
        ),
    params:
        spec=model_spec,
        image_size=DATA["image_size"],
        amp=config["amp"],
        code=code("scripts/predict.py"),
    script:
        "../scripts/predict.py"
