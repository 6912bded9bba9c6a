"""Preprocessing a cohort: a manifest in, preprocessed images and a new manifest out.

Runs on the same per-case runner as extraction (resume, failures, --jobs).
Writes ``<out>/images/<case>.nrrd`` (and ``<out>/masks/<case>.nrrd`` when the
recipe resamples), a sidecar ``<case>.preprocessing.json`` beside each image
(the recipe and what each step did: extraction copies it into its
provenance), and ``<out>/manifest.csv`` pointing at the new files.
"""

from __future__ import annotations

import functools
import os
import time
from pathlib import Path
from typing import Any

import SimpleITK as sitk

from ..commands import bias_field_path
from ..io import tables
from ..io.errors import InputError
from ..io.images import read_case_image, read_label_map, write_image
from ..io.manifest import Case
from ..io.progress import Progress
from ..io.provenance import library_versions
from ..io.validation import align_mask
from ..preprocessing.filters import HistogramStandardizer
from ..preprocessing.recipes import Recipe, apply_recipe_to_case, sidecar_path
from .runner import CohortSummary, StepOutput, case_key, commit_case, run_step, safe_name


def _load_case(case: Case, resample_mask: bool) -> tuple[sitk.Image, sitk.Image | None]:
    image, series = read_case_image(case.image, case_id=case.case_id, series=case.series,
                                    mask=case.mask if case.mask and str(case.mask) not in ("", ".") else None)
    mask = None
    if case.mask and str(case.mask) not in ("", "."):
        mask, _ = read_label_map(Path(case.mask), case_id=case.case_id, image=image, series=series,
                                 rois=case.rois)
        if mask.GetNumberOfComponentsPerPixel() > 1:
            raise InputError("layered (overlapping) segmentations are not preprocessed", case_id=case.case_id,
                             file=case.mask, hint="export the segmentation as a label map for preprocessing")
        mask, _ = align_mask(image, mask, resample_mask=resample_mask, case_id=case.case_id,
                             image_file=str(case.image), mask_file=str(case.mask))
    return image, mask


def preprocess_case(case: Case, part_file: Path, keyed=None, *, recipe: Recipe, out_dir: Path,
                    resample_mask: bool = False, keep_bias_field: bool = False) -> dict[str, Any]:
    t0 = time.perf_counter()
    key, hashes = keyed or case_key(case, recipe.digest(), [resample_mask, keep_bias_field])

    def work() -> dict[str, Any]:
        image, mask = _load_case(case, resample_mask)
        result, log = apply_recipe_to_case(recipe, image, mask, case_id=case.case_id, image_file=str(case.image),
                                           keep=("bias_field",) if keep_bias_field else ())
        name = safe_name(case.case_id)
        image_out = out_dir / "images" / f"{name}.nrrd"
        write_image(result.image, image_out)
        outputs = {"image": str(image_out)}
        if mask is not None:
            if recipe.resamples():
                mask_out = out_dir / "masks" / f"{name}.nrrd"
                write_image(result.mask, mask_out)
                outputs["mask"] = str(mask_out)
            else:
                outputs["mask"] = str(case.mask)
        if keep_bias_field and "bias_field" in result.extra:
            field_out = Path(bias_field_path(str(out_dir), str(image_out)))
            write_image(result.extra["bias_field"], field_out)
            outputs["bias_field"] = str(field_out)
        tables.write_json({"recipe": recipe.to_dict(), "steps": log, "source_image": str(case.image),
                           "source_hashes": hashes, "versions": library_versions()}, sidecar_path(image_out))
        return {"outputs": outputs, "steps": log}

    return commit_case(case, part_file, key, hashes, work, t0)


def fit_histogram(cases: list[Case], recipe: Recipe, resample_mask: bool = False) -> list[float]:
    """Learn histogram-standardisation landmarks on the cohort, on the images as the recipe leaves
    them just before that step (one image in memory at a time); failing cases are left out."""
    index = next(i for i, (n, o) in enumerate(recipe.steps) if n == "normalize" and o.get("method") == "histogram")
    options = recipe.steps[index][1]

    def images():
        for case in cases:
            try:
                image, mask = _load_case(case, resample_mask)
                result, _ = recipe.apply(image, mask, until=index)
            except Exception:  # recorded when the case itself runs
                continue
            yield result.image, result.mask

    standardizer = HistogramStandardizer(region=options.get("region", "body"),
                                         percentiles=options.get("percentiles") or HistogramStandardizer.PERCENTILES)
    return [float(v) for v in standardizer.fit(images()).landmarks_]


def _manifest_rows(case: Case, record: dict[str, Any], out_dir: Path) -> list[dict[str, Any]]:
    """The new manifest's row of a preprocessed case: its outputs, relative to ``out_dir``, and its columns."""
    outputs = record["outputs"]
    row = {"case_id": case.case_id, "image": os.path.relpath(outputs["image"], out_dir),
           "mask": os.path.relpath(outputs["mask"], out_dir) if "mask" in outputs else ""}
    for column in ("roi", "patient_id", "label", "site"):
        value = getattr(case, "rois" if column == "roi" else column)
        row[column] = ";".join(value) if isinstance(value, list) else (value or "")
    row.update(case.extra)
    return [row]


def run_preprocess(cases: list[Case], recipe: Recipe, out_dir: str | Path, *, jobs: int = 1,
                   overwrite: bool = False, retry_failed: bool = False, resample_mask: bool = False,
                   keep_bias_field: bool = False, progress: Progress | None = None,
                   scheduler: str | None = None, timeout: float | None = None) -> CohortSummary:
    out_dir = Path(out_dir)
    progress = progress or Progress("none", step="preprocess")
    if recipe.needs_cohort_fit():
        progress.log("learning histogram landmarks on the cohort")
        recipe.learned["histogram_landmarks"] = fit_histogram(cases, recipe, resample_mask)
    output = StepOutput(rows=functools.partial(_manifest_rows, out_dir=out_dir),
                        entry=lambda case, record: {k: record[k] for k in ("steps", "hashes", "seconds")},
                        empty_columns=("case_id", "image", "mask"), numeric=False)
    return run_step(
        cases, out_dir / "manifest.csv", step="preprocess", digest=recipe.digest(),
        settings={"recipe": recipe.to_dict()},
        key_fn=functools.partial(case_key, settings_digest=recipe.digest(), extra=[resample_mask, keep_bias_field]),
        task=functools.partial(preprocess_case, recipe=recipe, out_dir=out_dir, resample_mask=resample_mask,
                               keep_bias_field=keep_bias_field),
        output=output, provenance={"recipe": recipe.to_dict()}, progress=progress, overwrite=overwrite,
        retry_failed=retry_failed, jobs=jobs, scheduler=scheduler, timeout=timeout)
