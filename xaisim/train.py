"""Fine-tune (or train from scratch) one model on the train split; validate every epoch.

timm models train with the ``train`` settings; ``epochs: 0`` keeps a pretrained model as it is,
with its own classifier head and classes (e.g. ImageNet's 1000): its predictions are indices into
those classes, so its ``val_accuracy`` is not defined (null in metrics.json, empty in the summary)
and its maps explain its own predicted class. scikit-learn models are fitted once on flattened
pixels (:mod:`xaisim.classical`); the ``train`` settings do not apply to them.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import torch
from timm.optim import create_optimizer_v2
from torch import nn
from torch.utils.data import DataLoader
from tqdm import tqdm

from xaisim.predict import predict
from xaisim.runtime import autocast, log_start_cost

log = logging.getLogger(__name__)

def settings(defaults: dict[str, Any], override: dict[str, Any] | None) -> dict[str, Any]:
    """A model's training settings: the config's ``train`` (the schema fills in its defaults), with
    the keys of the model's own ``train`` (and of its ``augment``) replaced."""
    merged = {**defaults, **(override or {})}
    merged["augment"] = {**defaults["augment"], **(override or {}).get("augment", {})}
    return merged


def _scheduler(name: str, optimizer: torch.optim.Optimizer, lr: float, total_steps: int):
    if name == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=total_steps)
    if name == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total_steps)
    return torch.optim.lr_scheduler.ConstantLR(optimizer, factor=1.0, total_iters=0)


def evaluate(model: nn.Module, loader: DataLoader, device: torch.device, amp: bool = False) -> float:
    """Top-1 accuracy of ``model`` on ``loader``."""
    out = predict(model, loader, device, amp)
    return (out["index"][:, 0] == out["label"]).sum().item() / max(len(out["label"]), 1)


def fit(
    model: nn.Module,
    train_loader: DataLoader,
    val_loader: DataLoader,
    *,
    epochs: int,
    lr: float,
    weight_decay: float,
    optimizer: str = "adamw",
    schedule: str = "onecycle",
    label_smoothing: float = 0.0,
    device: torch.device,
    amp: bool = False,
    name: str = "model",
) -> dict[str, Any]:
    """Train ``model`` in place; return per-epoch loss and validation accuracy. A loss that becomes
    NaN or infinite stops the job with an error naming ``name`` and the epoch: such a model would
    otherwise be saved, explained (all-zero gradients) and compared as if it were trained."""
    model.to(device)
    opt = create_optimizer_v2(model, opt=optimizer, lr=lr, weight_decay=weight_decay)
    sched = _scheduler(schedule, opt, lr, epochs * len(train_loader))
    scaler = torch.amp.GradScaler(device.type, enabled=amp and device.type == "cuda")
    loss_fn = nn.CrossEntropyLoss(label_smoothing=label_smoothing)
    history: dict[str, list[float]] = {"train_loss": [], "val_accuracy": []}
    start = time.perf_counter()
    for epoch in range(epochs):
        train_loader.dataset.epoch = epoch  # augmentation is seeded per (seed, epoch, image)
        model.train()
        total, count = 0.0, 0
        for x, y in tqdm(train_loader, desc=f"epoch {epoch + 1}/{epochs}", mininterval=5):
            x, y = x.to(device), y.to(device)
            opt.zero_grad(set_to_none=True)
            with autocast(device, amp):
                loss = loss_fn(model(x), y)
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
            sched.step()
            if not torch.isfinite(loss):
                raise FloatingPointError(
                    f"model {name!r}: the training loss became {loss.item()} in epoch {epoch + 1}; "
                    "lower its train.lr (or the config's train.lr), or check the data")
            total += loss.item() * len(y)
            count += len(y)
        history["train_loss"].append(total / count)
        history["val_accuracy"].append(evaluate(model, val_loader, device, amp))
        log.info("epoch %d: loss %.4f, val accuracy %.4f", epoch + 1, history["train_loss"][-1], history["val_accuracy"][-1])
    return {
        **history,
        "val_accuracy_final": history["val_accuracy"][-1],
        "train_seconds": round(time.perf_counter() - start, 2),
        "epochs": epochs,
    }


def train_model(
    index_path: str,
    spec: dict[str, Any],
    train: dict[str, Any],
    *,
    image_size: int,
    seed: int,
    device: torch.device,
    amp: bool,
    weights_path: str,
    metrics_path: str,
) -> dict[str, Any]:
    """Build ``spec``, train it on the index's train split and write weights and metrics atomically."""
    from xaisim import classical, models
    from xaisim.data import loader
    from xaisim.index import num_classes, read_index
    from xaisim.io import write_json

    index = read_index(index_path)
    classes = num_classes(index)
    if models.kind(spec) == "sklearn":
        cfg = models.data_config(nn.Identity(), spec, image_size)
        plain = models.transform(cfg, train=False)
        est, metrics = classical.fit(
            spec,
            loader(index[index["split"] == "train"], plain, 256),
            loader(index[index["split"] == "val"], plain, 256),
            num_classes=classes,
            seed=seed,
        )
        metrics.update(arch=f"sklearn:{spec['sklearn']}", num_classes=classes, input_size=list(cfg["input_size"]))
        classical.save(est, weights_path, {"sklearn": spec["sklearn"], "num_classes": classes})
        write_json(metrics, metrics_path)
        return metrics
    if train["epochs"] == 0:
        model = models.create(spec, None)
        metrics = {"train_loss": [], "val_accuracy": [], "val_accuracy_final": None, "train_seconds": 0.0, "epochs": 0}
        metrics.update(arch=spec["arch"], num_classes=model.num_classes, head="pretrained",
                       input_size=list(models.data_config(model, spec, image_size)["input_size"]))
        log.info("epochs 0: %s kept as it is, with its pretrained %d-class head", spec["arch"], model.num_classes)
        models.save_trained(model, weights_path, head="pretrained")
        write_json(metrics, metrics_path)
        return metrics
    model = models.create(spec, classes)
    cfg = models.data_config(model, spec, image_size)
    train_loader = loader(
        index[index["split"] == "train"],
        models.transform(cfg, train=True, augment=train["augment"]),
        train["batch_size"],
        shuffle=True,
        seed=seed,
        num_workers=train["num_workers"],
    )
    val_loader = loader(
        index[index["split"] == "val"], models.transform(cfg, train=False), train["batch_size"]
    )
    log_start_cost("training")
    metrics = fit(
        model,
        train_loader,
        val_loader,
        epochs=train["epochs"],
        lr=train["lr"],
        weight_decay=train["weight_decay"],
        optimizer=train["optimizer"],
        schedule=train["schedule"],
        label_smoothing=train["label_smoothing"],
        device=device,
        amp=amp,
        name=spec.get("name", spec["arch"]),
    )
    metrics.update(arch=spec["arch"], num_classes=classes, head="trained", input_size=list(cfg["input_size"]))
    models.save_trained(model, weights_path, head="trained")
    write_json(metrics, metrics_path)
    return metrics
