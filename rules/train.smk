# Training (or fitting) each model, then its predictions and features on the explained subset.


include: "helpers/train.smk"


rule train:
    input:
        index=P.INDEX,
        pretrained=pretrained_input,
    output:
        weights=P.WEIGHTS,
        metrics=P.TRAIN_METRICS,
    log:
        P.log("train", "{model}"),
    benchmark:
        P.benchmark("train", "{model}")
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
        index=P.INDEX,
        subset=P.SUBSET,
        weights=P.WEIGHTS,
    output:
        predictions=P.PREDICTIONS,
        centre_crop=P.CENTRE_CROP,
        features=P.FEATURES,
    log:
        P.log("predict", "{model}"),
    benchmark:
        P.benchmark("predict", "{model}")
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
