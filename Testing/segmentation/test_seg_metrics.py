"""Segmentation agreement metrics on cases computable by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
import SimpleITK as sitk
from RadiomicsWorkshopLib.segmentation.metrics import evaluate_files, segmentation_metrics


def label_map(box: tuple[slice, slice, slice] | None, spacing=(1.0, 1.0, 1.0), shape=(30, 30, 30), label: int = 1,
              origin=(0.0, 0.0, 0.0)) -> sitk.Image:
    array = np.zeros(shape, np.uint8)  # z, y, x
    if box is not None:
        array[box] = label
    image = sitk.GetImageFromArray(array)
    image.SetSpacing(spacing)
    image.SetOrigin(origin)
    return image


CUBE = (slice(10, 20), slice(10, 20), slice(10, 20))


def test_identical_masks():
    row, = segmentation_metrics(label_map(CUBE), label_map(CUBE))
    assert row["dice"] == 1.0 and row["iou"] == 1.0 and row["surface_dice"] == 1.0
    assert row["hausdorff95_mm"] == 0.0 and row["hausdorff_mm"] == 0.0


def test_disjoint_masks():
    row, = segmentation_metrics(label_map((slice(0, 5), slice(0, 5), slice(0, 5))), label_map(CUBE))
    assert row["dice"] == 0.0 and row["iou"] == 0.0 and row["surface_dice"] == 0.0
    # Nearest surface voxels: (4,4,4) and (10,10,10); farthest: (19,19,19) to (4,4,4) -> 15*sqrt(3).
    assert row["hausdorff_mm"] == pytest.approx(15 * math.sqrt(3), rel=1e-5)


def test_shifted_cubes_have_known_overlap_and_distance_in_mm():
    # 10^3 cubes shifted by 3 voxels along x, voxels 2 mm wide along x: overlap 7*10*10.
    spacing = (2.0, 1.0, 1.0)  # x, y, z
    shifted = (slice(10, 20), slice(10, 20), slice(13, 23))
    row, = segmentation_metrics(label_map(shifted, spacing), label_map(CUBE, spacing))
    assert row["dice"] == pytest.approx(2 * 700 / 2000)
    assert row["iou"] == pytest.approx(700 / 1300)
    assert row["hausdorff_mm"] == pytest.approx(6.0)  # 3 voxels x 2 mm: the spacing is used
    assert 0 < row["hausdorff95_mm"] <= 6.0
    # Surface Dice: every surface point lies within 6 mm of the other surface; fewer within 1 mm.
    wide, = segmentation_metrics(label_map(shifted, spacing), label_map(CUBE, spacing), tolerance_mm=6.0)
    assert wide["surface_dice"] == pytest.approx(1.0)
    assert 0 < row["surface_dice"] < 1


def test_empty_prediction_is_reported_not_an_error(tmp_path):
    row, = segmentation_metrics(label_map(None), label_map(CUBE))
    assert row["dice"] == 0.0 and math.isnan(row["hausdorff95_mm"]) and row["note"] == "empty prediction"
    # Files, and a prediction on another grid (twice the voxel size, same physical extent): compared in mm.
    reference = label_map(CUBE)
    coarse = sitk.Resample(reference, [15, 15, 15], sitk.Transform(), sitk.sitkNearestNeighbor, (0.5, 0.5, 0.5),
                           (2.0, 2.0, 2.0), reference.GetDirection(), 0, reference.GetPixelID())
    sitk.WriteImage(reference, str(tmp_path / "ref.nrrd"))
    sitk.WriteImage(coarse, str(tmp_path / "pred.nrrd"))
    table = evaluate_files([("case1", tmp_path / "pred.nrrd", tmp_path / "ref.nrrd")])
    assert list(table["case_id"]) == ["case1"] and table["dice"].iloc[0] > 0.9
