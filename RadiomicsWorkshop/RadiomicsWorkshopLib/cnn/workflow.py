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
from typing import Any

import numpy as np
import pandas as pd

from ..io.errors import InputError, OutputExistsError, SettingsError
from ..modeling.store import CARD_FORMATS, read_card
from .network import FitResult, build_network, fit_network, network_config, per_case, predict_items
from .settings import CnnSettings

logger = logging.getLogger(__name__)
CARD_FORMAT = CARD_FORMATS["cnn"]
WEIGHTS_FILE = "models/model.pt"
#: What training writes into its folder (what --overwrite replaces; nothing else is touched).
FOLDER_FILES = ("card.json", "report.html", "predictions.csv", "slice_predictions.csv", "training_predictions.csv",
                "folds.csv", "metrics.csv", "roc.csv", "calibration.csv", WEIGHTS_FILE, "configs/inference.json",
                "configs/metadata.json")


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
    from ..io.manifest import read_manifest
    from ..modeling.pipeline import outcome_labels

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
        y = outcome_labels(frame[outcome].str.strip())
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
    from .data import roi_slices

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
    from ..modeling.pipeline import ModelData, outer_splits
    from ..modeling.settings import ModelSettings

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
    from ..modeling.store import prepare_folder

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


def _folds_for(cohort: CnnCohort, settings: CnnSettings, manifest, folds_file, positive_class, weights):
    """The given fold assignment (or None: drawn later), after checking what the cohort allows."""
    from ..modeling.workflow import read_folds

    if positive_class is not None and positive_class not in cohort.classes:
        raise SettingsError(f"--positive {positive_class} is not a class ({', '.join(cohort.classes)})")
    if weights is not None and not Path(weights).is_file():
        raise InputError("weights file not found", file=weights, hint="give a saved state dict to fine-tune from")
    folds = read_folds(folds_file) if folds_file is not None else None
    if folds is None:
        per_class = pd.DataFrame({"g": cohort.groups, "y": cohort.y}).groupby("y")["g"].nunique()
        if per_class.min() < settings.outer_folds:
            raise InputError(f"{per_class.min()} patient(s) of class '{per_class.idxmin()}': fewer than the "
                             f"{settings.outer_folds} outer folds", file=manifest,
                             hint=f"use --outer-folds {max(2, int(per_class.min()))} or give more patients")
    return folds


@dataclass
class _CrossValidation:
    oof: np.ndarray  # out-of-fold probabilities, cases x classes
    fold_of: np.ndarray
    slice_frames: list
    per_fold: list


def _cross_validate(cohort: CnnCohort, splits, settings: CnnSettings, fit, dev, positive_class) -> _CrossValidation:
    """Train on each outer fold's training patients, predict its test patients."""
    from ..modeling.metrics import evaluate

    n_classes = len(cohort.classes)
    cv = _CrossValidation(np.full((len(cohort.cases), n_classes), np.nan), np.zeros(len(cohort.cases), dtype=int),
                          [], [])
    for k, (train_rows, test_rows) in enumerate(splits):
        result, fit_rows, val_rows = fit(np.asarray(train_rows), f"fold{k + 1}", settings.seed + k)
        network = build_network(settings, n_classes)
        network.load_state_dict(result.state)
        test_items = items_for(cohort, np.asarray(test_rows), settings)
        proba = predict_items(network, test_items, settings, dev)
        cv.oof[test_rows] = per_case(test_items, proba, np.asarray(test_rows))
        cv.fold_of[test_rows] = k + 1
        if settings.dims == 2:
            cv.slice_frames.append(pd.DataFrame({"case_id": [i["case_id"] for i in test_items],
                                                 "slice": [i["slice"] for i in test_items], "fold": k + 1,
                                                 **{f"probability_{c}": proba[:, j]
                                                    for j, c in enumerate(cohort.classes)}}))
        fold_eval = evaluate(cohort.y[test_rows], cv.oof[test_rows], cohort.classes, cohort.groups[test_rows],
                             positive=positive_class, n_bootstrap=0)
        cv.per_fold.append({"fold": k + 1, "metrics": fold_eval.metrics, "best_epoch": result.best_epoch,
                            "epochs_run": len(result.history), "history": result.history,
                            "images_per_second": round(result.images_per_second, 1),
                            "seconds": round(result.seconds, 2),
                            "train_groups": sorted(set(cohort.groups[fit_rows])),
                            "validation_groups": sorted(set(cohort.groups[val_rows])),
                            "test_groups": sorted(set(cohort.groups[test_rows]))})
    return cv


def _write_networks_outputs(folder: Path, cohort: CnnCohort, cv: _CrossValidation, final: FitResult,
                            settings: CnnSettings, dev) -> int:
    """predictions.csv (out of fold), folds.csv, slice_predictions.csv, the final network's own predictions on
    its training cases, its weights and the bundle's configs; returns how many inputs (crops) the cohort has."""
    import torch

    from ..io.tables import atomic_target, write_json, write_table

    n_classes = len(cohort.classes)
    network = build_network(settings, n_classes)
    network.load_state_dict(final.state)
    predictions = _frame(cohort, np.arange(len(cohort.cases)), cv.oof)
    predictions.insert(len(cohort.keys().columns), "fold", cv.fold_of)
    write_table(predictions, folder / "predictions.csv")
    write_table(pd.DataFrame({"group": cohort.groups, "fold": cv.fold_of}).drop_duplicates()
                .sort_values(["fold", "group"]), folder / "folds.csv")
    if cv.slice_frames:
        write_table(pd.concat(cv.slice_frames, ignore_index=True), folder / "slice_predictions.csv")
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
    return len(all_items)


def _card(cohort: CnnCohort, settings: CnnSettings, *, manifest, outcome, folds_file, positive_class, cv_eval,
          cv: _CrossValidation, final: FitResult, final_train, final_val, inputs: int, folder: Path, dev,
          start: float) -> dict:
    from ..io.provenance import file_digest, library_versions
    from ..modeling.workflow import model_library_versions

    n_classes = len(cohort.classes)
    counts = pd.Series(cohort.y).value_counts().sort_index()
    return {
        "format": CARD_FORMAT, "kind": "cnn",
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "outcome": outcome, "classes": cohort.classes,
        "positive_class": positive_class or (cohort.classes[1] if n_classes == 2 else None),
        "group_column": cohort.group_column, "settings": settings.to_dict(),
        "network_def": network_config(settings, n_classes),
        "training_data": {"manifest": str(manifest), "manifest_sha256": file_digest(manifest),
                          "cases": len(cohort.cases), "patients": int(len(set(cohort.groups))),
                          "inputs": inputs, "class_counts": {str(k): int(v) for k, v in counts.items()}},
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
        "cross_validation": {**cv_eval.to_dict(), "per_fold": cv.per_fold,
                             "mean_fold_auc": float(np.nanmean([f["metrics"]["auc"] for f in cv.per_fold]))},
        "final_model": {"best_epoch": final.best_epoch, "history": final.history,
                        "train_groups": sorted(set(cohort.groups[final_train])),
                        "validation_groups": sorted(set(cohort.groups[final_val])),
                        "images_per_second": round(final.images_per_second, 1)},
        "weights": {"initial": final.weights or "random (seeded)",
                    "file": WEIGHTS_FILE, "sha256": file_digest(folder / WEIGHTS_FILE)},
        "device": str(dev),
        "threads": final.threads,
        "library_versions": library_versions() | model_library_versions(),
        "seconds": round(time.monotonic() - start, 2),
    }


def train_cnn(manifest: str | Path, outcome: str, out: str | Path, settings: CnnSettings, *,
              group: str | None = None, folds_file: str | Path | None = None, weights: str | Path | None = None,
              positive_class: str | None = None, device: str = "auto", overwrite: bool = False, progress=None,
              report: bool = True, jobs: int | None = None) -> CnnTrainResult:
    """Cross-validate and train a CNN classifier; write the classifier folder (see the module doc).

    ``jobs``: the cores torch, ITK and BLAS may use (``--jobs``); None leaves each library its default."""
    import shutil

    from ..deep.device import torch_device
    from ..io.tables import write_json
    from ..io.threads import thread_budget
    from ..modeling.metrics import evaluate
    from ..modeling.workflow import write_result_tables

    with thread_budget(jobs, torch=True):
        start = time.monotonic()
        settings.check()
        folder = Path(out)
        _prepare_folder(folder, overwrite)
        cohort = read_cohort(manifest, outcome, settings, group=group)
        folds = _folds_for(cohort, settings, manifest, folds_file, positive_class, weights)
        splits = outer_folds(cohort, settings, folds)
        dev = torch_device(device)
        n_classes = len(cohort.classes)
        if progress is not None:
            progress.start((len(splits) + 1) * settings.epochs,
                           f"{len(cohort.cases)} cases, {len(set(cohort.groups))} patients, {len(splits)} folds + "
                           "final network")

        def fit(rows: np.ndarray, name: str, seed: int) -> tuple[FitResult, np.ndarray, np.ndarray]:
            train_rows, val_rows = validation_split(cohort, rows, settings)
            counter = {"epochs": 0}

            def on_epoch(record: dict) -> None:
                counter["epochs"] += 1
                if progress is not None:
                    progress.advance(f"{name} epoch {record['epoch']}: loss {record['loss']:.3f}, "
                                     f"validation {record['validation_loss']:.3f}")

            result = fit_network(items_for(cohort, train_rows, settings), items_for(cohort, val_rows, settings),
                                 settings, n_classes, dev, weights=weights,
                                 checkpoint=folder / "checkpoints" / f"{name}.pt", seed=seed, on_epoch=on_epoch)
            if progress is not None:  # the epochs early stopping (or an earlier, resumed run) left out
                for _ in range(settings.epochs - counter["epochs"]):
                    progress.advance(f"{name}: stopped early", skipped=True)
            return result, train_rows, val_rows

        cv = _cross_validate(cohort, splits, settings, fit, dev, positive_class)
        cv_eval = evaluate(cohort.y, cv.oof, cohort.classes, cohort.groups, positive=positive_class,
                           n_bootstrap=settings.bootstrap, seed=settings.seed)
        final, final_train, final_val = fit(np.arange(len(cohort.cases)), "final", settings.seed + len(splits))
        inputs = _write_networks_outputs(folder, cohort, cv, final, settings, dev)
        card = _card(cohort, settings, manifest=manifest, outcome=outcome, folds_file=folds_file,
                     positive_class=positive_class, cv_eval=cv_eval, cv=cv, final=final, final_train=final_train,
                     final_val=final_val, inputs=inputs, folder=folder, dev=dev, start=start)
        write_result_tables(folder, card)
        write_json(card, folder / "card.json")
        if report:
            from ..modeling.report import write_report

            write_report(card, folder / "report.html")
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
                                         "description": "ROI-centred crops made by RadiomicsWorkshopLib.cnn.data"}}


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
    return read_card(folder, kinds=("cnn",))


def load_classifier(folder: str | Path, device: str = "cpu"):
    """The trained network (eval mode) and its card; refuses weights that changed after training."""
    import torch

    from ..deep.device import torch_device
    from ..io.provenance import file_digest

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
                overwrite: bool = False, jobs: int | None = None) -> pd.DataFrame:
    """A saved classifier's predictions for the cases of a manifest: one row per case (slices averaged)."""
    from ..deep.device import torch_device
    from ..io.tables import check_table_path, write_table
    from ..io.threads import thread_budget

    if out is not None:
        out = check_table_path(out)
        if out.exists() and not overwrite:
            raise OutputExistsError("prediction table exists", file=out, hint="pass --overwrite or choose another --out")
    network, card = load_classifier(model, device)
    settings = CnnSettings.from_dict(card["settings"])
    cohort = read_cohort(manifest, None, settings, classes=card["classes"])
    rows = np.arange(len(cohort.cases))
    items = items_for(cohort, rows, settings, with_labels=False)
    with thread_budget(jobs, torch=True):
        probabilities = predict_items(network, items, settings, torch_device(device))
    frame = _frame(cohort, rows, per_case(items, probabilities, rows))
    if out is not None:
        write_table(frame, out)
    return frame


def describe(card: dict) -> dict[str, Any]:
    """The few numbers a terminal summary shows."""
    cv = card["cross_validation"]
    return {"auc": cv["metrics"]["auc"], "ci95": cv["ci95"]["auc"], "folds": len(cv["per_fold"]),
            "best_epochs": [f["best_epoch"] for f in cv["per_fold"]]}
