"""The end-to-end CNN's network: built from its bundle definition, fine-tuned from weights, trained on the core's
one training loop (training.fit) and applied to ROI crops."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from ..deep.names import MONAI_NAMES
from ..io.errors import InputError
from .settings import CnnSettings

#: The classification heads of the backbones (left out when fine-tuning from another task's weights).
HEADS = ("fc.", "class_layers.out.", "_fc.")


def network_config(settings: CnnSettings, n_classes: int) -> dict:
    """The MONAI network as a bundle's ``network_def``."""
    channels = 2 if settings.mask_channel else 1
    if settings.backbone.startswith("resnet"):
        depth = int(settings.backbone[len("resnet"):])
        block, layers = {10: ("basic", [1, 1, 1, 1]), 18: ("basic", [2, 2, 2, 2]), 34: ("basic", [3, 4, 6, 3]),
                         50: ("bottleneck", [3, 4, 6, 3])}[depth]
        w = settings.width
        return {"_target_": "ResNet", "block": block, "layers": layers, "block_inplanes": [w, 2 * w, 4 * w, 8 * w],
                "spatial_dims": settings.dims, "n_input_channels": channels, "num_classes": n_classes,
                "conv1_t_size": 7, "conv1_t_stride": 2}
    if settings.backbone == "densenet121":
        return {"_target_": "DenseNet121", "spatial_dims": settings.dims, "in_channels": channels,
                "out_channels": n_classes}
    return {"_target_": "EfficientNetBN", "model_name": MONAI_NAMES[settings.backbone], "spatial_dims": settings.dims,
            "in_channels": channels, "num_classes": n_classes, "pretrained": False}


def build_network(settings: CnnSettings, n_classes: int):
    from monai.bundle import ConfigParser

    parser = ConfigParser({"network_def": network_config(settings, n_classes)})
    return parser.get_parsed_content("network_def")


def load_pretrained(network, path: str | Path) -> dict:
    """Fine-tuning: the weights of ``path`` that fit the network (same name and shape; the classification head
    is left out, a first convolution with another number of input channels is summed over them). Returns what
    was loaded; refuses a file of which less than half the network's parameters load."""
    import torch

    from ..deep.embeddings import load_state_dict
    from ..io.provenance import file_digest

    state = load_state_dict(path)
    own = network.state_dict()
    loaded, adapted = {}, []
    for name, tensor in state.items():
        if name.startswith(HEADS) or name not in own:
            continue
        target = own[name]
        if tensor.shape == target.shape:
            loaded[name] = tensor
        elif tensor.dim() == target.dim() >= 3 and tensor.shape[0] == target.shape[0] and \
                tensor.shape[2:] == target.shape[2:]:  # input channels differ (e.g. RGB ImageNet -> 1 channel)
            loaded[name] = tensor.sum(dim=1, keepdim=True).repeat(1, target.shape[1], *[1] * (tensor.dim() - 2)) \
                / target.shape[1]
            adapted.append(name)
    body = [k for k in own if not k.startswith(HEADS)]
    if len([k for k in body if k in loaded]) < 0.5 * len(body):
        raise InputError(f"the weights fit {len(loaded)} of the network's {len(body)} tensors", file=path,
                         hint="give weights of the same backbone (--backbone, --width, --dims)")
    with torch.no_grad():
        network.load_state_dict({**own, **loaded})
    return {"file": str(path), "sha256": file_digest(path), "tensors_loaded": len(loaded),
            "tensors_in_network": len(own), "input_channels_adapted": adapted}


# -- training one network


@dataclass
class FitResult:
    state: dict
    history: list[dict]
    best_epoch: int
    seconds: float
    images_per_second: float
    weights: dict | None = None  # what load_pretrained loaded, when fine-tuning
    threads: int = 0  # torch's threads while it trained


def class_weights(labels: np.ndarray, n_classes: int) -> np.ndarray:
    """Inverse class frequency, scaled to average 1 over the training inputs."""
    counts = np.bincount(labels, minlength=n_classes).astype(float)
    weights = np.where(counts > 0, counts.sum() / (n_classes * np.maximum(counts, 1)), 0.0)
    return weights


def _loader(dataset, settings: CnnSettings, shuffle: bool, seed: int):
    import torch
    from monai.data import DataLoader

    generator = torch.Generator()
    generator.manual_seed(seed)
    # training: a last batch of a single input is left out (batch norm cannot train on one value per channel)
    lone = shuffle and len(dataset) % settings.batch_size == 1 and len(dataset) > 1
    return DataLoader(dataset, batch_size=settings.batch_size, shuffle=shuffle, num_workers=settings.workers,
                      generator=generator, persistent_workers=settings.workers > 0, drop_last=lone)


def fit_network(train_items: list[dict], val_items: list[dict], settings: CnnSettings, n_classes: int, device, *,
                weights: str | Path | None = None, checkpoint: Path | None = None, seed: int = 0,
                on_epoch: Callable[[dict], None] | None = None) -> FitResult:
    """Train one network; keep the state of the epoch with the lowest validation loss (early stopping).

    ``checkpoint``: written after every epoch; a run with the same inputs resumes from it."""
    import torch
    from monai.utils import set_determinism

    from ..deep.training import fit
    from .data import dataset

    start = time.monotonic()
    set_determinism(seed=seed)
    network = build_network(settings, n_classes)
    weights_record = load_pretrained(network, weights) if weights else None
    network = network.to(device)
    labels = np.array([item["label"] for item in train_items])
    weight = torch.tensor(class_weights(labels, n_classes) if settings.class_weights else np.ones(n_classes),
                          dtype=torch.float32, device=device)
    criterion = torch.nn.CrossEntropyLoss(weight=weight)
    optimizer = torch.optim.AdamW(network.parameters(), lr=settings.learning_rate, weight_decay=settings.weight_decay)
    scheduler = (torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=0.5, patience=max(1, settings.patience // 3))
                 if settings.schedule == "plateau" else
                 torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=settings.epochs)
                 if settings.schedule == "cosine" else None)
    train_loader = _loader(dataset(train_items, settings, train=True), settings, True, seed)
    val_loader = _loader(dataset(val_items, settings, train=False), settings, False, seed)
    # a checkpoint resumes when everything but the stopping rule and the machinery is the same
    kept = {k: v for k, v in settings.to_dict().items() if k not in ("epochs", "patience", "workers", "cache")}
    signature = {"settings": kept, "seed": seed, "weights": weights_record,
                 "train": [[i["case_id"], i["slice"]] for i in train_items],
                 "validation": [[i["case_id"], i["slice"]] for i in val_items]}

    def loss_fn(batch):
        labels = torch.as_tensor(batch["label"]).to(device)
        return criterion(network(batch["image"].to(device)), labels), len(batch["label"])

    def validation_loss() -> float:
        total, count = 0.0, 0
        with torch.inference_mode():
            for batch in val_loader:
                logits = network(batch["image"].to(device))
                total += float(criterion(logits, torch.as_tensor(batch["label"]).to(device))) * len(batch["label"])
                count += len(batch["label"])
        return total / max(count, 1)

    step = ((lambda value: scheduler.step(value)) if settings.schedule == "plateau" else
            (lambda value: scheduler.step()) if scheduler is not None else None)
    run = fit(network, optimizer, train_loader, loss_fn=loss_fn, evaluate=validation_loss, epochs=settings.epochs,
              patience=settings.patience, metric="validation_loss", higher_is_better=False, signature=signature,
              checkpoint=checkpoint, scheduler=scheduler, scheduler_step=step,
              epoch_loss=lambda losses: sum(loss * n for loss, n in losses) / max(len(train_items), 1),
              learning_rate_in_history=True, on_epoch=on_epoch)
    return FitResult(run.best_state, run.history, run.best_epoch, time.monotonic() - start,
                     run.seen / run.train_seconds if run.train_seconds else float("nan"), weights_record,
                     run.threads)


def predict_items(network, items: list[dict], settings: CnnSettings, device) -> np.ndarray:
    """Softmax probabilities (items x classes), in item order."""
    import torch

    from .data import dataset

    network = network.to(device).eval()
    out = []
    with torch.inference_mode():
        for batch in _loader(dataset(items, settings, train=False, cache=False), settings, False, 0):
            out.append(torch.softmax(network(batch["image"].to(device)), dim=1).float().cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, 0))


def per_case(items: list[dict], proba: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Slice probabilities averaged per case, for the case rows ``rows`` in that order."""
    item_rows = np.array([item["row"] for item in items])
    return np.stack([proba[item_rows == row].mean(axis=0) for row in rows])


