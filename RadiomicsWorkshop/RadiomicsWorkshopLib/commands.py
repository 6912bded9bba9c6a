"""The command lines the Slicer module runs, and the progress events it reads back.

Plain functions of file paths and options, with no Slicer and nothing heavy
imported (the Slicer module imports this file in Slicer's own process), so that
a test runs exactly these command lines against the command line interface
and reads their output the way the module does. Each ``*_args`` function
returns the arguments after ``python -m RadiomicsWorkshopLib``: the step, then
its options. The module always asks for JSON-lines progress and replaces its
own temporary outputs.
"""

from __future__ import annotations

import csv
import json
import os
from typing import Any, Callable, Optional

# The choices the module offers, defined where the core uses them (modules of constants and settings classes,
# standard library only below them).
from .deep.names import DEEP_FEATURE_MODELS

# What the Slicer layer reads of the core's tables: the columns that identify a row (text), every other column
# being a number. Defined once in columns.py (constants only, no imports).
from .io.columns import IDENTIFIERS
from .modeling.settings import CLASSIFIERS, SELECTIONS

__all__ = ["IDENTIFIERS", "DEEP_FEATURE_MODELS", "CLASSIFIERS", "SELECTIONS"]  # and the *_args functions,
# parse_event, ProgressReader, the readers below

# -- what the Slicer layer reads of the core's output files: their layouts, defined here once and used by
#    the core that writes them


BIAS_FIELD_FOLDER = "bias_fields"  # beside images/ in a preprocess --out-dir, one file per image, same name


def bias_field_path(out_dir: str, image_file: str) -> str:
    """Where ``preprocess --bias-field`` writes the bias field of a preprocessed image."""
    return os.path.join(str(out_dir), BIAS_FIELD_FOLDER, os.path.basename(str(image_file)))


def bundle_label_names(metadata: dict) -> dict:
    """Label value (text) -> name, from a MONAI bundle's metadata (network_data_format.outputs.pred.channel_def)."""
    outputs = metadata.get("network_data_format", {}).get("outputs", {})
    return {str(k): v for k, v in (outputs.get("pred", {}).get("channel_def") or {}).items()}


def read_bundle_label_names(bundle_dir: str) -> dict:
    """``bundle_label_names`` of a bundle folder's configs/metadata.json ({} when it has none)."""
    path = os.path.join(str(bundle_dir), "configs", "metadata.json")
    if not os.path.isfile(path):
        return {}
    with open(path, encoding="utf-8") as handle:
        return bundle_label_names(json.load(handle))


def card_summary(model_dir: str) -> dict:
    """What a model folder's card.json says in one line: kind (radiomics or cnn), cross-validated AUC with its
    95% CI, balanced accuracy, patients, and the final model's features (radiomics) or backbone and dims (CNN)."""
    with open(os.path.join(str(model_dir), "card.json"), encoding="utf-8") as handle:
        card = json.load(handle)
    cv = card["cross_validation"]
    summary = {"kind": card.get("kind", "radiomics"), "auc": cv["metrics"]["auc"], "ci95": tuple(cv["ci95"]["auc"]),
               "balanced_accuracy": cv["metrics"].get("balanced_accuracy"),
               "patients": card["training_data"]["patients"]}
    if summary["kind"] == "cnn":
        summary.update(backbone=card["settings"]["backbone"], dims=card["settings"]["dims"])
    else:
        summary["features"] = len(card["final_model"]["selected_features"])
    return summary


def read_segmentation_metrics(path: str) -> list[dict]:
    """The rows of ``segment --metrics-out`` (label, dice, hausdorff95_mm, ...), numbers as floats."""
    with open(str(path), newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return [{k: (v if k in ("case_id", "label") else float(v) if v not in ("", None) else float("nan"))
             for k, v in row.items()} for row in rows]


def _rois(rois: Optional[list[str]]) -> list[str]:
    return [item for roi in rois or [] for item in ("--roi", str(roi))]


def extraction_args(image: str, mask: str, out: str, preset: str = "MR", parameter_file: Optional[str] = None,
                    rois: Optional[list[str]] = None, case_id: str = "case") -> list[str]:
    """PyRadiomics features of one image and its segmentation. In Slicer a segmentation does not depend on
    any one volume's grid (it may have been drawn before preprocessing resampled the volume), so the mask is
    put on the volume's grid (``--resample-mask``), as Slicer itself would."""
    args = ["extract", "--image", image, "--mask", mask, "--out", out, "--case-id", case_id,
            "--progress", "jsonl", "--overwrite", "--resample-mask"]
    args += ["--params", parameter_file] if parameter_file else ["--preset", preset]
    return args + _rois(rois)


def deep_features_args(image: str, mask: str, out: str, model: str, weights: str, modality: str = "MR",
                       rois: Optional[list[str]] = None, case_id: str = "case", device: str = "auto") -> list[str]:
    args = ["deep-features", "--image", image, "--mask", mask, "--out", out, "--model", model,
            "--weights", weights, "--modality", modality, "--case-id", case_id, "--device", device,
            "--progress", "jsonl", "--overwrite", "--resample-mask"]
    return args + _rois(rois)


def preprocessing_args(image: str, out_dir: str, recipe: str, mask: Optional[str] = None, bias_field: bool = False,
                       case_id: str = "case") -> list[str]:
    """``recipe``: a recipe name or a recipe YAML/JSON file."""
    args = ["preprocess", "--image", image, "--out-dir", out_dir, "--recipe", recipe, "--case-id", case_id,
            "--progress", "jsonl", "--overwrite"]
    if mask:
        args += ["--mask", mask]
    if bias_field:
        args += ["--bias-field"]
    return args


def training_args(tables: list[str], outcome: str, out_dir: str, clinical: Optional[str] = None,
                  group: Optional[str] = None, classifier: str = "logistic", selection: str = "anova",
                  overwrite: bool = False) -> list[str]:
    args = ["train", "--outcome", outcome, "--out", out_dir, "--classifier", classifier, "--selection", selection,
            "--progress", "jsonl"]
    for table in tables:
        args += ["--table", table]
    if clinical:
        args += ["--clinical", clinical]
    if group:
        args += ["--group", group]
    if overwrite:
        args += ["--overwrite"]
    return args


def prediction_args(model_dir: str, tables: list[str], out: str) -> list[str]:
    args = ["predict", "--model", model_dir, "--out", out, "--progress", "jsonl", "--overwrite"]
    for table in tables:
        args += ["--table", table]
    return args


def cnn_training_args(manifest: str, outcome: str, out_dir: str, folds: Optional[str] = None,
                      backbone: str = "resnet18", dims: int = 2, width: int = 64, crop: int = 64, epochs: int = 40,
                      outer_folds: int = 5, device: str = "auto", overwrite: bool = False) -> list[str]:
    args = ["train-cnn", "--manifest", manifest, "--outcome", outcome, "--out", out_dir, "--backbone", backbone,
            "--dims", str(dims), "--width", str(width), "--crop", str(crop), "--epochs", str(epochs),
            "--outer-folds", str(outer_folds), "--device", device, "--progress", "jsonl"]
    if folds:
        args += ["--folds", folds]
    if overwrite:
        args += ["--overwrite"]
    return args


def comparison_args(model_dir: str, others: list[str], out: Optional[str] = None) -> list[str]:
    """``report --compare``: the model's report with every model compared on the same folds."""
    args = ["report", "--model", model_dir, "--compare", *others, "--progress", "jsonl"]
    if out:
        args += ["--out", out]
    return args


def segmentation_args(image: str, bundle_dir: str, out: str, tta: bool = False, reference: Optional[str] = None,
                      metrics_out: Optional[str] = None, device: str = "auto") -> list[str]:
    args = ["segment", "--model", bundle_dir, "--image", image, "--out", out, "--device", device,
            "--progress", "jsonl", "--overwrite"]
    if tta:
        args += ["--tta"]
    if reference:
        args += ["--reference", reference, "--metrics-out", metrics_out]
    return args


def ibsi_check_args(data_dir: str, out: str, configurations: Optional[list[str]] = None) -> list[str]:
    """``ibsi-check``: the installation against the IBSI-1 reference data sets found in ``data_dir`` (or only
    ``configurations``: "digital phantom", "A" ... "E", ``features.ibsi.configurations.NAMES``); the table
    (configuration, family, reproduced, compared, expected, regressed) in ``out``."""
    args = ["ibsi-check", "--data", data_dir, "--out", out, "--overwrite", "--progress", "jsonl"]
    for configuration in configurations or []:
        args += ["--configuration", configuration]
    return args


def robustness_args(manifest: str, out_dir: str, preset: str = "MR", perturbations: str = "RNTC", count: int = 30,
                    seed: int = 0, jobs: int = 1) -> list[str]:
    """``robustness``: every case of ``manifest`` under ``count`` seeded perturbations (letters R, N, T, V, C),
    then each feature's ICCs with 95% CIs; ``out_dir`` receives features.csv, icc.csv, icc_by_family.csv,
    icc.png and robustness.md."""
    return ["robustness", "--manifest", manifest, "--preset", preset, "--perturbations", perturbations,
            "--count", str(count), "--seed", str(seed), "--jobs", str(jobs), "--out", out_dir, "--overwrite",
            "--progress", "jsonl"]


def parse_event(line: str) -> Optional[dict[str, Any]]:
    """The progress event on one line of the core's output (``--progress jsonl``), or None for any other
    line (a library's warning, say, which the module logs)."""
    try:
        event = json.loads(line)
    except ValueError:
        return None
    return event if isinstance(event, dict) and "event" in event else None


class ProgressReader:
    """What the module makes of a run's events: progress reported, errors collected with their advice,
    log messages passed on, the result kept. ``failure`` gives the message box text of a failed run."""

    def __init__(self, on_progress: Optional[Callable[[int, int, str], None]] = None,
                 on_log: Optional[Callable[[str, str], None]] = None, hint_label: str = "What to do: {hint}") -> None:
        self.on_progress = on_progress
        self.on_log = on_log
        self.hint_label = hint_label
        self.progress: list[tuple[int, int, str]] = []
        self.errors: list[str] = []  # the message box's text: in Slicer the files named are temporary ones
        self.error_events: list[dict[str, Any]] = []
        self.result: Optional[dict[str, Any]] = None

    def handle(self, event: dict[str, Any]) -> None:
        kind = event.get("event")
        if kind == "progress":
            step = (int(event.get("done") or 0), int(event.get("total") or 0), str(event.get("message", "")))
            self.progress.append(step)
            if self.on_progress:
                self.on_progress(*step)
        elif kind == "error":
            self.error_events.append(event)
            text = str(event.get("message", "")).strip()
            if event.get("hint"):
                text += "\n" + self.hint_label.format(hint=event["hint"])
            self.errors.append(text)
        elif kind == "log" and self.on_log:
            self.on_log(str(event.get("level", "info")), str(event.get("message", "")))
        elif kind == "result":
            self.result = event

    def failure(self, return_code: int, output_lines: list[str]) -> Optional[str]:
        """None when the run succeeded; else its errors, or the end of its output when it reported none."""
        if return_code == 0:
            return None
        return "\n\n".join(self.errors) or "\n".join(output_lines[-20:]) or f"exit status {return_code}"
