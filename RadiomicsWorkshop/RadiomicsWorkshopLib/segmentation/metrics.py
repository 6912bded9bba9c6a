"""Agreement between a segmentation and a reference: Dice, IoU, Hausdorff distances, surface Dice.

Computed with MONAI's metrics, per label, in millimetres (the voxel spacing is
passed to the distance metrics). The two label maps are compared in physical
space: a prediction on another voxel grid is resampled (nearest neighbour)
onto the reference's grid first. An empty prediction or reference gives Dice
0 (1 when both are empty) and no distance (NaN), with a note, rather than an
error.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import SimpleITK as sitk

from ..io.errors import InputError

METRIC_COLUMNS = ["dice", "iou", "hausdorff95_mm", "hausdorff_mm", "surface_dice"]


def _on_reference_grid(prediction: sitk.Image, reference: sitk.Image) -> sitk.Image:
    same = (prediction.GetSize() == reference.GetSize()
            and np.allclose(prediction.GetSpacing(), reference.GetSpacing(), atol=1e-4)
            and np.allclose(prediction.GetOrigin(), reference.GetOrigin(), atol=1e-3)
            and np.allclose(prediction.GetDirection(), reference.GetDirection(), atol=1e-5))
    if same:
        return prediction
    return sitk.Resample(prediction, reference, sitk.Transform(), sitk.sitkNearestNeighbor, 0,
                         prediction.GetPixelID())


def segmentation_metrics(prediction: sitk.Image, reference: sitk.Image, labels: list[int] | None = None,
                         tolerance_mm: float = 1.0) -> list[dict]:
    """One dict per label: dice, iou, hausdorff95_mm, hausdorff_mm, surface_dice (at ``tolerance_mm``), voxel
    counts and a note for empty masks."""
    import torch
    from monai.metrics import compute_dice, compute_hausdorff_distance, compute_iou, compute_surface_dice

    if prediction.GetDimension() != reference.GetDimension():
        raise InputError(f"the prediction is {prediction.GetDimension()}D and the reference "
                         f"{reference.GetDimension()}D", hint="compare label maps of the same image")
    prediction = _on_reference_grid(prediction, reference)
    predicted = sitk.GetArrayFromImage(prediction).astype(np.int64)
    truth = sitk.GetArrayFromImage(reference).astype(np.int64)
    spacing = list(reversed(reference.GetSpacing()))  # array axes are z, y, x
    if labels is None:
        labels = sorted(int(v) for v in set(np.unique(truth)) | set(np.unique(predicted)) if v != 0)
    rows = []
    for label in labels:
        p, t = predicted == label, truth == label
        row = {"label": int(label), "predicted_voxels": int(p.sum()), "reference_voxels": int(t.sum()), "note": ""}
        if not p.any() or not t.any():
            both = not p.any() and not t.any()
            row.update(dice=1.0 if both else 0.0, iou=1.0 if both else 0.0, hausdorff95_mm=float("nan"),
                       hausdorff_mm=float("nan"), surface_dice=1.0 if both else 0.0,
                       note="both empty" if both else ("empty prediction" if not p.any() else "empty reference"))
            rows.append(row)
            continue
        # One-hot (batch 1, channels background + label): MONAI's metric layout.
        y_pred = torch.from_numpy(np.stack([~p, p])[None].astype(np.float32))
        y = torch.from_numpy(np.stack([~t, t])[None].astype(np.float32))
        row.update(
            dice=float(compute_dice(y_pred, y, include_background=False)[0, 0]),
            iou=float(compute_iou(y_pred, y, include_background=False)[0, 0]),
            hausdorff95_mm=float(compute_hausdorff_distance(y_pred, y, percentile=95, spacing=spacing)[0, 0]),
            hausdorff_mm=float(compute_hausdorff_distance(y_pred, y, spacing=spacing)[0, 0]),
            surface_dice=float(compute_surface_dice(y_pred, y, class_thresholds=[tolerance_mm],
                                                    spacing=spacing)[0, 0]))
        rows.append(row)
    return rows


def evaluate_files(pairs: list[tuple[str, str | Path, str | Path]], labels: list[int] | None = None,
                   tolerance_mm: float = 1.0):
    """A table (one row per case and label) for (case_id, prediction file, reference file) triples."""
    import pandas as pd

    from ..io.images import dicom_mask_modality, read_image, read_label_map

    rows = []
    for case_id, predicted_file, reference_file in pairs:
        try:
            prediction = read_image(predicted_file)
            # an RTSTRUCT reference is drawn onto the prediction's grid (the image's: segment writes it there)
            reference = read_image(reference_file) if dicom_mask_modality(reference_file) is None else \
                read_label_map(reference_file, case_id=case_id, image=prediction)[0]
        except InputError as exc:
            raise exc.with_context(case_id=case_id)
        for row in segmentation_metrics(prediction, reference, labels, tolerance_mm):
            rows.append({"case_id": case_id, **row})
    return pd.DataFrame(rows, columns=["case_id", "label", *METRIC_COLUMNS, "predicted_voxels", "reference_voxels",
                                       "note"])
