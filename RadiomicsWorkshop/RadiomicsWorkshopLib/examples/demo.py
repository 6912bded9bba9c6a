"""The whole workflow on sample data, into one folder: what ``make demo`` and ``radiomics-workshop demo`` run.

Every step runs through the command line, in its own process, exactly as a
user types it (the commands are echoed and saved in ``commands.sh``):

1. PyRadiomics' five sample cases (fetched with pip when missing): MR-preset
   features of the cohort, slice-wise features of brain1, brain1 through the
   ``brain_MR`` recipe, and the IBSI digital phantom when its folder is given;
2. a generated, labelled cohort of 40 lesion phantoms (``phantoms.py``):
   preprocessing with a recipe (one voxel grid, z-score), radiomics (MR preset)
   and deep features (ResNet-18, *random weights*: the only offline choice),
   merged with the manifest's label, patient and site columns;
3. a model: nested, patient-grouped cross-validation, the model folder with
   its HTML report; the sample cases go through the same preprocessing and
   extraction and are predicted;
4. auto-segmentation: a small MONAI UNet trained for a few epochs on the
   phantoms, applied to 8 new phantoms (another seed) and evaluated.

``README.md`` in the output folder describes every file and the results.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..io.errors import InputError, OutputExistsError, SettingsError, WorkshopError
from ..io.threads import default_jobs

# Resampling to one grid (the phantoms' own, 1 x 1 x 2 mm; real cohorts mix voxel sizes) and a z-score over
# the image, which removes the two sites' intensity scales. The segmentation network is trained on the raw
# phantoms: its preprocessing (foreground crop, z-score) is saved with it.
RECIPE = """\
# Written by `radiomics-workshop demo`: the preprocessing of the phantom cohort (and of the cases it predicts).
name: phantoms_MR
steps:
  - resample: {spacing: [1.0, 1.0, 2.0], interpolator: bspline, mask_mode: partial_volume}
  - normalize: {method: zscore, region: image}
"""
NEW_PHANTOMS, NEW_PHANTOMS_SEED = 8, 7
RANDOM_WEIGHTS_NOTE = ("The deep features use random weights (--weights random), the only choice without a "
                       "network: they show the mechanics and mean nothing. Real use needs pretrained weights: "
                       "--weights FILE (a saved state dict, e.g. torchvision's ImageNet ResNet-18) or "
                       "--weights pretrained (MONAI downloads them).")


class DemoStepFailed(WorkshopError):
    """A step of the demo exited with an error."""


@dataclass
class DemoSettings:
    """Sizes of the demo: phantoms in the cohort, segmentation epochs, cores, progress display."""

    phantoms: int = 40
    seg_epochs: int = 8
    jobs: int = field(default_factory=default_jobs)
    progress: str = "auto"  # auto, bar or none (each step's display)

    def check(self) -> "DemoSettings":
        if self.phantoms < 20:
            raise SettingsError(f"--phantoms {self.phantoms}: the demo's 5-fold cross-validation needs at least 20",
                                hint="use 40 (the default)")
        if self.seg_epochs < 1 or self.jobs < 1:
            raise SettingsError("--seg-epochs and --jobs must be at least 1")
        if self.progress not in ("auto", "bar", "none"):
            raise SettingsError(f"unknown progress display '{self.progress}'", hint="choose auto, bar or none")
        return self


@dataclass
class DemoStep:
    name: str
    args: list[str]
    seconds: float = 0.0


@dataclass
class DemoResult:
    folder: Path
    steps: list[DemoStep]
    seconds: float
    results: dict


def _steps(out: Path, data: Path, ibsi: Path | None, settings: DemoSettings, overwrite: bool) -> list[DemoStep]:
    """The command lines of the demo, in order (arguments after ``radiomics-workshop``)."""
    ow = ["--overwrite"] if overwrite else []
    jobs = ["--jobs", str(settings.jobs)]
    bar = ["--progress", settings.progress]
    o = lambda name: str(out / name)  # noqa: E731
    steps = [
        DemoStep("sample cases", ["sample-data", "--dest", str(data), "--manifest", o("manifest.csv")]),
        DemoStep("extract sample cases", ["extract", "--manifest", o("manifest.csv"), "--preset", "MR", *jobs,
                                          "--out", o("features_MR.csv"), *bar, *ow]),
        DemoStep("extract slice-wise", ["extract", "--image", str(data / "brain1_image.nrrd"), "--mask",
                                        str(data / "brain1_label.nrrd"), "--preset", "MR_2D", "--case-id", "brain1",
                                        *jobs, "--out", o("features_brain1_slicewise.csv"), *bar, *ow]),
        DemoStep("preprocess brain1", ["preprocess", "--image", str(data / "brain1_image.nrrd"), "--mask",
                                       str(data / "brain1_label.nrrd"), "--case-id", "brain1", "--recipe", "brain_MR",
                                       "--bias-field", *jobs, "--out-dir", o("preprocessed"), *bar, *ow]),
        DemoStep("extract preprocessed brain1", ["extract", "--manifest", o("preprocessed/manifest.csv"), "--preset",
                                                 "MR", *jobs, "--out", o("features_brain1_preprocessed.csv"), *bar,
                                                 *ow]),
    ]
    if ibsi is not None:
        phantom = ibsi / "digital_phantom" / "nifti"
        steps.append(DemoStep("extract IBSI phantom", [
            "extract", "--image", str(phantom / "image" / "phantom.nii.gz"), "--mask",
            str(phantom / "mask" / "mask.nii.gz"), "--preset", "IBSI", "--case-id", "ibsi_phantom", "--jobs", "1",
            "--out", o("features_ibsi_phantom.csv"), "--progress", "none", *ow]))
    deep = ["--model", "resnet18", "--weights", "random", "--modality", "MR"]
    steps += [
        DemoStep("generate phantoms", ["sample-data", "--phantoms", str(settings.phantoms), "--dest", o("phantoms"),
                                       *ow]),
        DemoStep("preprocess phantoms", ["preprocess", "--manifest", o("phantoms/manifest.csv"), "--recipe",
                                         o("recipe_phantoms.yaml"), *jobs, "--out-dir", o("phantoms_preprocessed"),
                                         *bar, *ow]),
        DemoStep("radiomics phantoms", ["extract", "--manifest", o("phantoms_preprocessed/manifest.csv"), "--preset",
                                        "MR", *jobs, "--out", o("phantoms_radiomics.csv"), *bar, *ow]),
        DemoStep("deep features phantoms", ["deep-features", "--manifest", o("phantoms_preprocessed/manifest.csv"),
                                            *deep, "--out", o("phantoms_deep.csv"), *bar, *ow]),
        DemoStep("merge phantoms", ["merge", o("phantoms_radiomics.csv"), o("phantoms_deep.csv"), "--clinical",
                                    o("phantoms/manifest.csv"), "--out", o("phantoms_merged.csv"), *ow]),
        DemoStep("train", ["train", "--table", o("phantoms_merged.csv"), "--outcome", "label", "--group",
                           "patient_id", "--selection", "anova", "--k", "5,10", "--outer-folds", "5",
                           "--inner-folds", "3", "--bootstrap", "200", *jobs, "--out", o("model"), *bar, *ow]),
        DemoStep("preprocess sample cases", ["preprocess", "--manifest", o("manifest.csv"), "--recipe",
                                             o("recipe_phantoms.yaml"), *jobs, "--out-dir", o("sample_preprocessed"),
                                             *bar, *ow]),
        DemoStep("radiomics sample cases", ["extract", "--manifest", o("sample_preprocessed/manifest.csv"),
                                            "--preset", "MR", *jobs, "--out", o("sample_radiomics.csv"), *bar, *ow]),
        DemoStep("deep features sample cases", ["deep-features", "--manifest", o("sample_preprocessed/manifest.csv"),
                                                *deep, "--out", o("sample_deep.csv"), *bar, *ow]),
        DemoStep("merge sample cases", ["merge", o("sample_radiomics.csv"), o("sample_deep.csv"), "--out",
                                        o("sample_merged.csv"), *ow]),
        DemoStep("predict sample cases", ["predict", "--model", o("model"), "--table", o("sample_merged.csv"),
                                          "--out", o("sample_predictions.csv"), *ow]),
        DemoStep("train segmentation", ["train-seg", "--manifest", o("phantoms/manifest.csv"), "--out", o("seg_model"),
                                        "--network", "unet", "--spacing", "1", "1", "2", "--patch", "32", "32", "16",
                                        "--channels", "8", "16", "32", "64", "--epochs", str(settings.seg_epochs),
                                        "--label-name", "lesion", *bar, *ow]),
        DemoStep("new phantoms", ["sample-data", "--phantoms", str(NEW_PHANTOMS), "--seed", str(NEW_PHANTOMS_SEED),
                                  "--dest", o("new_phantoms"), *ow]),
        DemoStep("segment new phantoms", ["segment", "--model", o("seg_model"), "--manifest",
                                          o("new_phantoms/manifest.csv"), "--out-dir", o("seg_new_phantoms"), *bar,
                                          *ow]),
        DemoStep("evaluate segmentation", ["evaluate-seg", "--manifest", o("new_phantoms/manifest.csv"),
                                           "--predictions", o("seg_new_phantoms"), "--out", o("seg_metrics.csv"),
                                           *ow]),
    ]
    return steps


def _check_inputs(out: Path, ibsi: Path | None, overwrite: bool) -> None:
    if out.exists() and not out.is_dir():
        raise SettingsError("--out is a file, not a folder", file=out, hint="give a folder for the demo's outputs")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise OutputExistsError("the demo's output folder is not empty", file=out,
                                hint="pass --overwrite to run the demo again into it, or choose another --out")
    if ibsi is not None:
        for name in ("image/phantom.nii.gz", "mask/mask.nii.gz"):
            path = ibsi / "digital_phantom" / "nifti" / name
            if not path.is_file():
                raise InputError("IBSI digital phantom not found", file=path,
                                 hint="give the IBSI data folder (holding digital_phantom/nifti/), or leave out --ibsi")


def _run(step: DemoStep, number: int, total: int, env: dict) -> None:
    print(f"\n[{number}/{total}] {step.name}: radiomics-workshop {shlex.join(step.args)}", file=sys.stderr, flush=True)
    start = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "RadiomicsWorkshopLib", *step.args], env=env)
    step.seconds = time.monotonic() - start
    if done.returncode != 0:
        raise DemoStepFailed(f"step '{step.name}' exited with status {done.returncode}",
                             hint=f"see its messages above; the command was: radiomics-workshop {shlex.join(step.args)}")


def _results(out: Path) -> dict:
    """The numbers the demo shows at the end: cross-validated AUC, predictions, segmentation Dice."""
    import pandas as pd

    card = json.loads((out / "model" / "card.json").read_text())
    cv = card["cross_validation"]
    predictions = pd.read_csv(out / "sample_predictions.csv")
    seg = pd.read_csv(out / "seg_metrics.csv")
    history = json.loads((out / "seg_model" / "configs" / "metadata.json").read_text())
    return {
        "auc": cv["metrics"]["auc"], "auc_ci95": cv["ci95"]["auc"],
        "balanced_accuracy": cv["metrics"]["balanced_accuracy"],
        "patients": card["training_data"]["patients"], "features_offered": len(card["features"]),
        "features_used": card["final_model"]["selected_features"],
        "sample_predictions": dict(zip(predictions["case_id"], predictions["predicted"])),
        "seg_dice_mean": float(seg["dice"].mean()), "seg_hausdorff95_mm_mean": float(seg["hausdorff95_mm"].mean()),
        "seg_validation_dice": history.get("radiomics_workshop", {}).get("best_validation_dice", float("nan")),
    }


def _readme(out: Path, steps: list[DemoStep], results: dict, seconds: float, ibsi: bool) -> str:
    low, high = results["auc_ci95"]
    used = ", ".join(f"`{name}`" for name in results["features_used"])
    predicted = ", ".join(f"{case}: {label}" for case, label in results["sample_predictions"].items())
    times = "\n".join(f"| {s.name} | `radiomics-workshop {s.args[0]}` | {s.seconds:.1f} |" for s in steps)
    ibsi_line = ("| `features_ibsi_phantom.csv` | the IBSI digital phantom, IBSI preset |\n" if ibsi else "")
    return f"""# RadiomicsWorkshop demo

Written by `radiomics-workshop demo` (`make demo`) in {seconds:.0f} s. Every step ran through the command
line; `commands.sh` lists the commands in order. Each table has its `.provenance.json` (settings, versions,
input hashes, timings) and a `.parts/` folder (its per-case commits, what makes a run resumable).

> **Random weights.** {RANDOM_WEIGHTS_NOTE}

## PyRadiomics' sample cases

| file | what |
|---|---|
| `manifest.csv` | the five cases (brain1, brain2, breast1, lung1, lung2) |
| `features_MR.csv` | radiomics features of the five, MR preset |
| `features_brain1_slicewise.csv` | brain1, one row per slice (MR_2D preset) |
| `preprocessed/` | brain1 through the `brain_MR` recipe (N4 bias field, denoising, 1 mm, z-score), with its bias field and a manifest |
| `features_brain1_preprocessed.csv` | features of the preprocessed brain1 |
{ibsi_line}
## Model development on generated lesion phantoms

The five sample cases are too few for a model, so the demo generates a labelled cohort
(`radiomics-workshop sample-data --phantoms 40`): 40 patients, one lesion each, classes `fine`
(round, fine texture) and `coarse` (elongated, coarse texture), sites A and B with different intensity scales.

| file | what |
|---|---|
| `phantoms/` | the 40 images, masks and `manifest.csv` (`patient_id`, `label`, `site`) |
| `recipe_phantoms.yaml` | the preprocessing recipe: one voxel grid, z-score over the image (removes the sites' scales) |
| `phantoms_preprocessed/` | the phantoms after the recipe, with a manifest |
| `phantoms_radiomics.csv` | radiomics features (MR preset) |
| `phantoms_deep.csv` | deep features: ResNet-18 (2D, per slice, mean and max), **random weights** |
| `phantoms_merged.csv` | both joined on (case_id, roi), with the manifest's columns |
| `model/` | the model: `report.html` (open it in a browser), `model.skops`, `card.json`, `predictions.csv` (out-of-fold), `folds.csv`, `metrics.csv`, `roc.csv`, `calibration.csv` |
| `sample_preprocessed/`, `sample_radiomics.csv`, `sample_deep.csv`, `sample_merged.csv` | the five sample cases through the same recipe and extraction |
| `sample_predictions.csv` | the model applied to them |

Nested cross-validation (5 outer folds grouped by patient, 3 inner folds for the number of features):
AUC {results['auc']:.3f} (95% CI {low:.3f}-{high:.3f}), balanced accuracy {results['balanced_accuracy']:.3f},
{results['patients']} patients, {results['features_offered']} features offered; the final model uses {used}.
The phantom classes differ by design, so the model separates them; on real data expect less.
Sample cases predicted as: {predicted}. They are brain, breast and lung images, nothing like the phantoms:
this only shows how a saved model is applied to new cases.

## Auto-segmentation

| file | what |
|---|---|
| `seg_model/` | a MONAI bundle: a small UNet trained on the 40 phantoms (8 of them validate) for a few epochs |
| `new_phantoms/` | 8 more phantoms from another seed, never seen in training |
| `seg_new_phantoms/` | their predicted label maps and a manifest |
| `seg_metrics.csv` | Dice, IoU, Hausdorff distances and surface Dice against their masks |

Best validation Dice during training {results['seg_validation_dice']:.3f}; on the new phantoms mean Dice
{results['seg_dice_mean']:.3f}, mean 95% Hausdorff distance {results['seg_hausdorff95_mm_mean']:.2f} mm.

## Steps

| step | command | seconds |
|---|---|---:|
{times}
"""


def run_demo(out: str | Path = "out/demo", settings: DemoSettings | None = None, *, data: str | Path | None = None,
             ibsi: str | Path | None = None, overwrite: bool = False) -> DemoResult:
    """Run the whole workflow through the command line into ``out``; returns the steps, timings and results.

    ``data``: PyRadiomics' sample data folder (default ``default_data_dir()``; fetched with pip when missing).
    ``ibsi``: the IBSI data folder, to extract the IBSI digital phantom as well. An ``out`` that is not empty is
    refused without ``overwrite``.
    """
    from ..io.tables import write_text
    from .sampledata import default_data_dir

    settings = (settings or DemoSettings()).check()
    out = Path(out)
    data = Path(data) if data is not None else default_data_dir()
    ibsi = Path(ibsi) if ibsi is not None else None
    _check_inputs(out, ibsi, overwrite)
    out.mkdir(parents=True, exist_ok=True)
    write_text(RECIPE, out / "recipe_phantoms.yaml")
    steps = _steps(out, data, ibsi, settings, overwrite)
    write_text("#!/bin/sh\n# The commands `radiomics-workshop demo` ran, in order (recipe_phantoms.yaml is its own).\n"
               "set -e\n" + "".join(f"radiomics-workshop {shlex.join(s.args)}\n" for s in steps), out / "commands.sh")
    # The children show our messages and progress; libraries' deprecation notices are noise here.
    env = dict(os.environ, PYTHONWARNINGS="ignore::DeprecationWarning,ignore::FutureWarning")
    start = time.monotonic()
    print(f"RadiomicsWorkshop demo -> {out}\nNote: {RANDOM_WEIGHTS_NOTE}", file=sys.stderr, flush=True)
    for number, step in enumerate(steps, 1):
        _run(step, number, len(steps), env)
    seconds = time.monotonic() - start
    results = _results(out)
    write_text(_readme(out, steps, results, seconds, ibsi is not None), out / "README.md")
    low, high = results["auc_ci95"]
    print(f"\ndemo done in {seconds:.0f} s -> {out}/ (README.md describes every file)\n"
          f"  model: nested CV AUC {results['auc']:.3f} ({low:.3f}-{high:.3f}); report: {out / 'model' / 'report.html'}\n"
          f"  segmentation: mean Dice {results['seg_dice_mean']:.3f} on {NEW_PHANTOMS} new phantoms\n"
          f"  note: deep features used random weights; real use needs pretrained weights", file=sys.stderr)
    return DemoResult(out, steps, seconds, results)
