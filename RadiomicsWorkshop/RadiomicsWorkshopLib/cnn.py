"""End-to-end CNN classification on ROI-centred crops, validated like the radiomics model.

``train_cnn`` reads a manifest (``case_id,image,mask`` + the outcome column, ``patient_id``), cuts
ROI-centred crops (``cnn_data``: 2D slices or 3D patches), and trains a MONAI backbone (ResNet,
DenseNet, EfficientNet; from scratch or fine-tuned from a weights file) with augmentation, class
weights, early stopping on a patient-grouped validation split, a learning-rate schedule and a
checkpoint after every epoch. Its performance is estimated by cross-validation over patient-grouped
outer folds -- the radiomics model's own fold assignment when given (``--folds``: its folds.csv), drawn
as the radiomics model draws them otherwise -- with slice predictions averaged per case and metrics
with patient-bootstrap CIs (``model_metrics``), so that the two are compared on the same patients
(``model_compare``). The final network is trained on every case the same way.

The classifier folder is a MONAI bundle (``configs/inference.json`` with ``network_def``,
``configs/metadata.json``, ``models/model.pt``) plus what the radiomics model folder holds: card.json
(settings, folds, metrics, training curves, the weights' SHA-256), predictions.csv (out-of-fold, one row
per case), folds.csv, metrics/roc/calibration.csv, training_predictions.csv (the final network on its
training cases: what a reload must reproduce) and report.html.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

from .cnn_settings import CnnSettings
from .errors import InputError, OutputExistsError, SettingsError

logger = logging.getLogger(__name__)
CARD_FORMAT = "radiomics-workshop cnn classifier 1"
WEIGHTS_FILE = "models/model.pt"
#: What training writes into its folder (what --overwrite replaces; nothing else is touched).
FOLDER_FILES = ("card.json", "report.html", "predictions.csv", "slice_predictions.csv", "training_predictions.csv",
                "folds.csv", "metrics.csv", "roc.csv", "calibration.csv", WEIGHTS_FILE, "configs/inference.json",
                "configs/metadata.json")
HEADS = ("fc.", "class_layers.out.", "_fc.")


# -- the cohort


@dataclass
class CnnCohort:
    """The cases of a manifest with their outcome and patient: one row per case."""

    cases: list  # manifest.Case
    y: np.ndarray  # outcome labels (str)
    groups: np.ndarray  # patient of each case
    classes: list[str]
    outcome: str
    group_column: str | None
    slices: dict[str, list[int]]  # case id -> slices holding the ROI (2D items)

    def keys(self, rows: np.ndarray | None = None) -> pd.DataFrame:
        rows = np.arange(len(self.cases)) if rows is None else rows
        frame = pd.DataFrame({"case_id": [self.cases[i].case_id for i in rows]})
        if self.group_column:
            frame[self.group_column] = self.groups[rows]
        return frame


def read_cohort(manifest: str | Path, outcome: str | None, settings: CnnSettings, *, group: str | None = None,
                classes: list[str] | None = None) -> CnnCohort:
    """The manifest's cases, outcome (a manifest column; None for prediction) and patients; the ROI slices of
    every case are found up front, so that a missing or empty mask stops the run before any training."""
    from .manifest import read_manifest
    from .modeling import _outcome_labels

    cases = read_manifest(manifest)
    frame = pd.read_csv(manifest, dtype=str, keep_default_na=False)
    frame.columns = [c.strip() for c in frame.columns]
    y = None
    if outcome is not None:
        if outcome not in frame.columns:
            raise InputError(f"the manifest has no outcome column '{outcome}' (columns: {', '.join(frame.columns)})",
                             file=manifest, hint="name the outcome column with --outcome (e.g. label)")
        empty = frame.index[frame[outcome].str.strip() == ""].tolist()
        if empty:
            raise InputError(f"manifest rows {', '.join(str(i + 2) for i in empty[:5])} have no outcome value",
                             file=manifest, hint="fill them in or remove those rows")
        y = _outcome_labels(frame[outcome].str.strip())
    if group is not None:
        if group not in frame.columns:
            raise InputError(f"the manifest has no column '{group}' for --group", file=manifest)
        groups, group_column = frame[group].str.strip().to_numpy(dtype=object), group
    elif "patient_id" in frame.columns and (frame["patient_id"].str.strip() != "").all():
        groups, group_column = frame["patient_id"].str.strip().to_numpy(dtype=object), "patient_id"
    else:
        groups, group_column = frame["case_id"].str.strip().to_numpy(dtype=object), None
    found = sorted(set(y)) if y is not None else []
    if y is not None and len(found) < 2:
        raise InputError(f"the outcome '{outcome}' has a single class ({found[0]})", file=manifest,
                         hint="a classifier needs cases of at least two classes")
    from .cnn_data import roi_slices

    slices = {}
    for case in cases:
        if case.mask is None:
            raise InputError("the case has no mask: the CNN sees the ROI's neighbourhood", case_id=case.case_id,
                             file=manifest, hint="fill in the mask column (segment the cases first)")
        slices[case.case_id] = roi_slices(case.mask, case.case_id)
    return CnnCohort(cases, y, groups, classes or found, outcome or "", group_column, slices)


def items_for(cohort: CnnCohort, rows: np.ndarray, settings: CnnSettings, with_labels: bool = True) -> list[dict]:
    """Network inputs of the cases ``rows``: every ROI slice (2D) or one patch per case (3D)."""
    lookup = {name: i for i, name in enumerate(cohort.classes)}
    items = []
    for row in rows:
        case = cohort.cases[row]
        base = {"case_id": case.case_id, "image": str(case.image), "mask": str(case.mask), "row": int(row)}
        if with_labels:
            base["label"] = lookup[cohort.y[row]]
        planes = cohort.slices[case.case_id] if settings.dims == 2 else [None]
        items += [dict(base, slice=z if z is not None else -1) for z in planes]
    return items


# -- the network


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
    return {"_target_": "EfficientNetBN", "model_name": "efficientnet-b0", "spatial_dims": settings.dims,
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

    from .deep import load_state_dict
    from .provenance import file_digest

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

    from .cnn_data import dataset
    from .tables import atomic_target

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
    history: list[dict] = []
    best_loss, best_state, first_epoch = float("inf"), None, 0
    if checkpoint is not None and checkpoint.is_file():
        saved = torch.load(str(checkpoint), map_location="cpu", weights_only=True)
        if saved.get("signature") == signature:
            network.load_state_dict(saved["network"])
            optimizer.load_state_dict(saved["optimizer"])
            if scheduler is not None and saved.get("scheduler"):
                scheduler.load_state_dict(saved["scheduler"])
            history, best_loss, best_state = saved["history"], saved["best_loss"], saved["best_state"]
            first_epoch = saved["epoch"] + 1
            torch.set_rng_state(saved["torch_rng"])
            train_loader.generator.set_state(saved["loader_rng"])
        else:
            logger.warning("checkpoint %s is from other settings or cases: starting again", checkpoint)
    seen, train_seconds = 0, 0.0
    for epoch in range(first_epoch, settings.epochs):
        if history and epoch + 1 - min(history, key=lambda h: h["validation_loss"])["epoch"] > settings.patience:
            break  # resumed after the stopping epoch
        network.train()
        t0, losses = time.monotonic(), []
        for batch in train_loader:
            optimizer.zero_grad()
            loss = criterion(network(batch["image"].to(device)), torch.as_tensor(batch["label"]).to(device))
            loss.backward()
            optimizer.step()
            losses.append(loss.item() * len(batch["label"]))
            seen += len(batch["label"])
        train_seconds += time.monotonic() - t0
        network.eval()
        total, count = 0.0, 0
        with torch.inference_mode():
            for batch in val_loader:
                logits = network(batch["image"].to(device))
                total += float(criterion(logits, torch.as_tensor(batch["label"]).to(device))) * len(batch["label"])
                count += len(batch["label"])
        val_loss = total / max(count, 1)
        record = {"epoch": epoch + 1, "loss": sum(losses) / max(len(train_items), 1), "validation_loss": val_loss,
                  "learning_rate": optimizer.param_groups[0]["lr"]}
        history.append(record)
        if val_loss < best_loss:
            best_loss = val_loss
            best_state = {k: v.detach().cpu().clone() for k, v in network.state_dict().items()}
        if scheduler is not None:
            scheduler.step(val_loss) if settings.schedule == "plateau" else scheduler.step()
        if checkpoint is not None:
            checkpoint.parent.mkdir(parents=True, exist_ok=True)
            tmp = atomic_target(checkpoint)
            torch.save({"signature": signature, "epoch": epoch, "network": network.state_dict(),
                        "optimizer": optimizer.state_dict(),
                        "scheduler": scheduler.state_dict() if scheduler is not None else None,
                        "history": history, "best_loss": best_loss, "best_state": best_state,
                        "torch_rng": torch.get_rng_state(), "loader_rng": train_loader.generator.get_state()}, tmp)
            tmp.replace(checkpoint)
        if on_epoch is not None:
            on_epoch(record)
        best_epoch = min(history, key=lambda h: h["validation_loss"])["epoch"]
        if epoch + 1 - best_epoch >= settings.patience:
            break
    best_epoch = min(history, key=lambda h: h["validation_loss"])["epoch"] if history else 0
    return FitResult(best_state, history, best_epoch, time.monotonic() - start,
                     seen / train_seconds if train_seconds else float("nan"), weights_record)


def predict_items(network, items: list[dict], settings: CnnSettings, device) -> np.ndarray:
    """Softmax probabilities (items x classes), in item order."""
    import torch

    from .cnn_data import dataset

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


def validation_split(cohort: CnnCohort, rows: np.ndarray, settings: CnnSettings) -> tuple[np.ndarray, np.ndarray]:
    """Patient-grouped, stratified split of ``rows`` into training and early-stopping validation rows."""
    from sklearn.model_selection import StratifiedGroupKFold

    per_class = pd.DataFrame({"g": cohort.groups[rows], "y": cohort.y[rows]}).groupby("y")["g"].nunique()
    if per_class.min() < 2:
        raise InputError(f"a training set holds {per_class.min()} patient(s) of class '{per_class.idxmin()}': too few "
                         "to hold one out for early stopping", hint="give more patients, or fewer --outer-folds")
    # a small training set gets fewer, larger validation folds: every class must reach each of them
    n_splits = int(min(max(2, round(1 / settings.validation_fraction)), per_class.min()))
    splitter = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=settings.seed)
    train, val = next(splitter.split(np.zeros(len(rows)), cohort.y[rows], cohort.groups[rows]))
    return rows[train], rows[val]


def outer_folds(cohort: CnnCohort, settings: CnnSettings, folds: pd.DataFrame | None):
    """The radiomics model's outer splits (``modeling.outer_splits``) on the cases: the given assignment, or
    drawn as the radiomics model draws them (same splitter, seed and order of rows)."""
    from .model_settings import ModelSettings
    from .modeling import ModelData, outer_splits

    data = ModelData(pd.DataFrame(index=range(len(cohort.cases))), cohort.y, cohort.groups, cohort.keys(), [],
                     cohort.classes)
    return outer_splits(data, ModelSettings(outer_folds=settings.outer_folds, seed=settings.seed), folds)


# -- the whole training


@dataclass
class CnnTrainResult:
    folder: Path
    card: dict
    seconds: float


def _prepare_folder(folder: Path, overwrite: bool) -> None:
    """A new or empty folder; one with checkpoints and no card is an interrupted training: it resumes."""
    from .model_store import prepare_folder

    interrupted = (folder / "checkpoints").is_dir() and not (folder / "card.json").exists()
    prepare_folder(folder, overwrite, FOLDER_FILES, resumable=interrupted)


def _frame(cohort: CnnCohort, rows: np.ndarray, proba: np.ndarray) -> pd.DataFrame:
    out = cohort.keys(rows)
    if cohort.y is not None:
        out[cohort.outcome] = cohort.y[rows]
    out["predicted"] = np.asarray(cohort.classes, dtype=object)[proba.argmax(axis=1)]
    for i, name in enumerate(cohort.classes):
        out[f"probability_{name}"] = proba[:, i]
    return out


def train_cnn(manifest: str | Path, outcome: str, out: str | Path, settings: CnnSettings, *,
              group: str | None = None, folds_file: str | Path | None = None, weights: str | Path | None = None,
              positive_class: str | None = None, device: str = "auto", overwrite: bool = False, progress=None,
              report: bool = True) -> CnnTrainResult:
    """Cross-validate and train a CNN classifier; write the classifier folder (see the module doc)."""
    import torch

    from .deep import torch_device
    from .model_metrics import evaluate
    from .model_workflow import _model_library_versions, _read_folds, write_result_tables
    from .provenance import file_digest, library_versions
    from .tables import atomic_target, write_json, write_table

    start = time.monotonic()
    settings.check()
    folder = Path(out)
    _prepare_folder(folder, overwrite)
    cohort = read_cohort(manifest, outcome, settings, group=group)
    if positive_class is not None and positive_class not in cohort.classes:
        raise SettingsError(f"--positive {positive_class} is not a class ({', '.join(cohort.classes)})")
    if weights is not None and not Path(weights).is_file():
        raise InputError("weights file not found", file=weights, hint="give a saved state dict to fine-tune from")
    folds = _read_folds(folds_file) if folds_file is not None else None
    if folds is None:
        per_class = pd.DataFrame({"g": cohort.groups, "y": cohort.y}).groupby("y")["g"].nunique()
        if per_class.min() < settings.outer_folds:
            raise InputError(f"{per_class.min()} patient(s) of class '{per_class.idxmin()}': fewer than the "
                             f"{settings.outer_folds} outer folds", file=manifest,
                             hint=f"use --outer-folds {max(2, int(per_class.min()))} or give more patients")
    splits = outer_folds(cohort, settings, folds)
    dev = torch_device(device)
    n_classes = len(cohort.classes)
    fits = len(splits) + 1
    if progress is not None:
        progress.start(fits * settings.epochs, f"{len(cohort.cases)} cases, {len(set(cohort.groups))} patients, "
                                               f"{len(splits)} folds + final network")

    def fit(rows: np.ndarray, name: str, seed: int) -> tuple[FitResult, np.ndarray, np.ndarray]:
        train_rows, val_rows = validation_split(cohort, rows, settings)
        counter = {"epochs": 0}

        def on_epoch(record: dict) -> None:
            counter["epochs"] += 1
            if progress is not None:
                progress.advance(f"{name} epoch {record['epoch']}: loss {record['loss']:.3f}, "
                                 f"validation {record['validation_loss']:.3f}")

        result = fit_network(items_for(cohort, train_rows, settings), items_for(cohort, val_rows, settings), settings,
                             n_classes, dev, weights=weights, checkpoint=folder / "checkpoints" / f"{name}.pt",
                             seed=seed, on_epoch=on_epoch)
        if progress is not None:  # the epochs early stopping (or an earlier, resumed run) left out
            for _ in range(settings.epochs - counter["epochs"]):
                progress.advance(f"{name}: stopped early", skipped=True)
        return result, train_rows, val_rows

    oof = np.full((len(cohort.cases), n_classes), np.nan)
    fold_of = np.zeros(len(cohort.cases), dtype=int)
    slice_frames, per_fold = [], []
    for k, (train_rows, test_rows) in enumerate(splits):
        result, fit_rows, val_rows = fit(np.asarray(train_rows), f"fold{k + 1}", settings.seed + k)
        network = build_network(settings, n_classes)
        network.load_state_dict(result.state)
        test_items = items_for(cohort, np.asarray(test_rows), settings)
        proba = predict_items(network, test_items, settings, dev)
        oof[test_rows] = per_case(test_items, proba, np.asarray(test_rows))
        fold_of[test_rows] = k + 1
        if settings.dims == 2:
            slice_frames.append(pd.DataFrame({"case_id": [i["case_id"] for i in test_items],
                                              "slice": [i["slice"] for i in test_items], "fold": k + 1,
                                              **{f"probability_{c}": proba[:, j]
                                                 for j, c in enumerate(cohort.classes)}}))
        fold_eval = evaluate(cohort.y[test_rows], oof[test_rows], cohort.classes, cohort.groups[test_rows],
                             positive=positive_class, n_bootstrap=0)
        per_fold.append({"fold": k + 1, "metrics": fold_eval.metrics, "best_epoch": result.best_epoch,
                         "epochs_run": len(result.history), "history": result.history,
                         "images_per_second": round(result.images_per_second, 1), "seconds": round(result.seconds, 2),
                         "train_groups": sorted(set(cohort.groups[fit_rows])),
                         "validation_groups": sorted(set(cohort.groups[val_rows])),
                         "test_groups": sorted(set(cohort.groups[test_rows]))})
    cv_eval = evaluate(cohort.y, oof, cohort.classes, cohort.groups, positive=positive_class,
                       n_bootstrap=settings.bootstrap, seed=settings.seed)
    final, final_train, final_val = fit(np.arange(len(cohort.cases)), "final", settings.seed + len(splits))
    network = build_network(settings, n_classes)
    network.load_state_dict(final.state)
    # Out-of-fold predictions, fold assignment and the final network's own predictions on its training cases.
    predictions = _frame(cohort, np.arange(len(cohort.cases)), oof)
    predictions.insert(len(cohort.keys().columns), "fold", fold_of)
    write_table(predictions, folder / "predictions.csv")
    write_table(pd.DataFrame({"group": cohort.groups, "fold": fold_of}).drop_duplicates()
                .sort_values(["fold", "group"]), folder / "folds.csv")
    if slice_frames:
        write_table(pd.concat(slice_frames, ignore_index=True), folder / "slice_predictions.csv")
    all_rows = np.arange(len(cohort.cases))
    all_items = items_for(cohort, all_rows, settings)
    write_table(_frame(cohort, all_rows, per_case(all_items, predict_items(network, all_items, settings, dev),
                                                  all_rows)), folder / "training_predictions.csv")
    (folder / "models").mkdir(parents=True, exist_ok=True)
    tmp = atomic_target(folder / WEIGHTS_FILE)
    torch.save(final.state, tmp)
    tmp.replace(folder / WEIGHTS_FILE)
    write_json(_inference_config(settings, n_classes), folder / "configs" / "inference.json")
    write_json(_metadata(settings, cohort), folder / "configs" / "metadata.json")
    counts = pd.Series(cohort.y).value_counts().sort_index()
    card = {
        "format": CARD_FORMAT, "kind": "cnn",
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "outcome": outcome, "classes": cohort.classes,
        "positive_class": positive_class or (cohort.classes[1] if n_classes == 2 else None),
        "group_column": cohort.group_column, "settings": settings.to_dict(),
        "network_def": network_config(settings, n_classes),
        "training_data": {"manifest": str(manifest), "manifest_sha256": file_digest(manifest),
                          "cases": len(cohort.cases), "patients": int(len(set(cohort.groups))),
                          "inputs": len(all_items), "class_counts": {str(k): int(v) for k, v in counts.items()}},
        "cv_design": {"outer": (f"given fold assignment ({folds_file})" if folds_file is not None else
                                f"{settings.outer_folds}-fold StratifiedGroupKFold, shuffled (seed {settings.seed}), "
                                "as the radiomics model draws it"),
                      "early_stopping": f"validation loss on {settings.validation_fraction:.0%} of each training "
                                        "set's patients (StratifiedGroupKFold), patience "
                                        f"{settings.patience} epochs",
                      "aggregation": "slice probabilities averaged per case" if settings.dims == 2 else
                                     "one patch per case",
                      "grouped_by": cohort.group_column or "case_id (one case per patient)",
                      "bootstrap": f"{settings.bootstrap} resamples of patients, percentile 95% CI"},
        "cross_validation": {**cv_eval.to_dict(), "per_fold": per_fold,
                             "mean_fold_auc": float(np.nanmean([f["metrics"]["auc"] for f in per_fold]))},
        "final_model": {"best_epoch": final.best_epoch, "history": final.history,
                        "train_groups": sorted(set(cohort.groups[final_train])),
                        "validation_groups": sorted(set(cohort.groups[final_val])),
                        "images_per_second": round(final.images_per_second, 1)},
        "weights": {"initial": final.weights or "random (seeded)",
                    "file": WEIGHTS_FILE, "sha256": file_digest(folder / WEIGHTS_FILE)},
        "device": str(dev),
        "library_versions": library_versions() | _model_library_versions(),
        "seconds": round(time.monotonic() - start, 2),
    }
    write_result_tables(folder, card)
    write_json(card, folder / "card.json")
    if report:
        from .model_report import write_cnn_report

        write_cnn_report(card, folder / "report.html")
    import shutil

    shutil.rmtree(folder / "checkpoints", ignore_errors=True)
    if progress is not None:
        progress.result(str(folder), auc=cv_eval.metrics["auc"])
    return CnnTrainResult(folder, card, time.monotonic() - start)


def _inference_config(settings: CnnSettings, n_classes: int) -> dict:
    return {"imports": ["$import torch"], "bundle_root": ".",
            "device": "$torch.device('cuda' if torch.cuda.is_available() else 'cpu')",
            "network_def": network_config(settings, n_classes), "network": "$@network_def.to(@device)",
            "radiomics_workshop_input": {"dims": settings.dims, "crop": settings.crop,
                                         "intensity": settings.intensity, "mask_channel": settings.mask_channel,
                                         "description": "ROI-centred crops made by RadiomicsWorkshopLib.cnn_data"}}


def _metadata(settings: CnnSettings, cohort: CnnCohort) -> dict:
    import monai
    import torch

    shape = [settings.crop] * settings.dims
    return {"version": "0.1.0", "monai_version": monai.__version__,
            "pytorch_version": torch.__version__.split("+")[0],
            "name": f"RadiomicsWorkshop {settings.backbone} classifier", "task": f"{settings.dims}D classification",
            "description": "Trained with radiomics-workshop train-cnn",
            "network_data_format": {
                "inputs": {"image": {"type": "image", "format": "magnitude",
                                     "num_channels": 2 if settings.mask_channel else 1, "spatial_shape": shape,
                                     "dtype": "float32"}},
                "outputs": {"pred": {"type": "probabilities", "format": "classes", "num_channels": len(cohort.classes),
                                     "spatial_shape": [len(cohort.classes)], "dtype": "float32",
                                     "channel_def": {str(i): c for i, c in enumerate(cohort.classes)}}}}}


# -- a saved classifier


def read_cnn_card(folder: str | Path) -> dict:
    from .tables import read_json

    folder = Path(folder)
    if not (folder / "card.json").is_file():
        raise InputError("not a classifier folder (no card.json)", file=folder,
                         hint="give the folder written by `radiomics-workshop train-cnn --out`")
    card = read_json(folder / "card.json")
    if card.get("format") != CARD_FORMAT:
        raise InputError(f"not a CNN classifier card (format {card.get('format')!r})", file=folder / "card.json",
                         hint="radiomics models predict with `radiomics-workshop predict`")
    return card


def load_classifier(folder: str | Path, device: str = "cpu"):
    """The trained network (eval mode) and its card; refuses weights that changed after training."""
    import torch

    from .deep import torch_device
    from .provenance import file_digest

    folder = Path(folder)
    card = read_cnn_card(folder)
    weights = folder / WEIGHTS_FILE
    if not weights.is_file():
        raise InputError(f"the classifier has no {WEIGHTS_FILE}", file=folder, hint="train it again")
    if file_digest(weights) != card["weights"]["sha256"]:
        raise InputError(f"{WEIGHTS_FILE} does not match the hash recorded in card.json: the file was changed after "
                         "training", file=weights, hint="use the folder as training wrote it, or train again")
    settings = CnnSettings.from_dict(card["settings"])
    network = build_network(settings, len(card["classes"]))
    network.load_state_dict(torch.load(str(weights), map_location="cpu", weights_only=True))
    return network.to(torch_device(device)).eval(), card


def predict_cnn(model: str | Path, manifest: str | Path, out: str | Path | None = None, *, device: str = "cpu",
                overwrite: bool = False) -> pd.DataFrame:
    """A saved classifier's predictions for the cases of a manifest: one row per case (slices averaged)."""
    from .deep import torch_device
    from .tables import check_table_path, write_table

    if out is not None:
        out = check_table_path(out)
        if out.exists() and not overwrite:
            raise OutputExistsError("prediction table exists", file=out, hint="pass --overwrite or choose another --out")
    network, card = load_classifier(model, device)
    settings = CnnSettings.from_dict(card["settings"])
    cohort = read_cohort(manifest, None, settings, classes=card["classes"])
    rows = np.arange(len(cohort.cases))
    items = items_for(cohort, rows, settings, with_labels=False)
    frame = _frame(cohort, rows, per_case(items, predict_items(network, items, settings, torch_device(device)), rows))
    if out is not None:
        write_table(frame, out)
    return frame


def describe(card: dict) -> dict[str, Any]:
    """The few numbers a terminal summary shows."""
    cv = card["cross_validation"]
    return {"auc": cv["metrics"]["auc"], "ci95": cv["ci95"]["auc"], "folds": len(cv["per_fold"]),
            "best_epochs": [f["best_epoch"] for f in cv["per_fold"]]}
