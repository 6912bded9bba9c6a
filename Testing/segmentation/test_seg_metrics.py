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


def _surface(box: tuple[slice, slice, slice], shape=(30, 30, 30)) -> np.ndarray:
    """The surface voxels of a box: the box's voxels with a 6-neighbour outside it, as (z, y, x) indices."""
    inside = np.zeros(shape, bool)
    inside[box] = True
    return np.argwhere(inside & ~_eroded(inside))


def _surface_distances(first, second, spacing_xyz) -> tuple[np.ndarray, np.ndarray]:
    """For each surface voxel of each box, the distance in mm to the nearest surface voxel of the other."""
    scale = np.array(spacing_xyz[::-1])
    p, q = _surface(first) * scale, _surface(second) * scale
    d = np.sqrt(((p[:, None, :] - q[None, :, :]) ** 2).sum(axis=2))
    return d.min(axis=1), d.min(axis=0)


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
    # HD95 and surface Dice by brute force: every surface voxel's distance (mm) to the other surface
    a, b = _surface_distances(shifted, CUBE, spacing)
    assert row["hausdorff95_mm"] == pytest.approx(max(np.percentile(a, 95), np.percentile(b, 95)), rel=1e-6)
    assert row["hausdorff95_mm"] == pytest.approx(6.0)  # most of the shifted faces lie 3 voxels off
    for tolerance in (1.0, 2.0, 4.5, 6.0):
        expected = ((a <= tolerance).sum() + (b <= tolerance).sum()) / (len(a) + len(b))
        got, = segmentation_metrics(label_map(shifted, spacing), label_map(CUBE, spacing), tolerance_mm=tolerance)
        assert got["surface_dice"] == pytest.approx(expected, rel=1e-6), tolerance
    assert row["surface_dice"] == pytest.approx(((a <= 1).sum() + (b <= 1).sum()) / (len(a) + len(b)))
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


def test_hd95_ignores_a_thin_spike_that_the_hausdorff_distance_sees():
    """A cube with a 1-voxel spike 6 voxels long against the cube: the maximum distance is the spike's tip
    (6 mm), the 95th percentile by brute force is far smaller; surface Dice counts the spike's voxels."""
    spike = np.zeros((30, 30, 30), np.uint8)
    spike[CUBE] = 1
    spike[15, 15, 20:26] = 1
    prediction = sitk.GetImageFromArray(spike)
    row, = segmentation_metrics(prediction, label_map(CUBE))
    assert row["hausdorff_mm"] == pytest.approx(6.0)
    surface_a = np.argwhere(spike & ~_eroded(spike))
    surface_b = _surface(CUBE)
    d = np.sqrt(((surface_a[:, None, :] - surface_b[None, :, :]) ** 2).sum(axis=2))
    a, b = d.min(axis=1), d.min(axis=0)
    assert row["hausdorff95_mm"] == pytest.approx(max(np.percentile(a, 95), np.percentile(b, 95)), rel=1e-6)
    assert row["hausdorff95_mm"] <= 1.0 < row["hausdorff_mm"]
    assert row["surface_dice"] == pytest.approx(((a <= 1).sum() + (b <= 1).sum()) / (len(a) + len(b)))


def _eroded(mask: np.ndarray) -> np.ndarray:
    """The voxels of ``mask`` whose six neighbours are all in it (outside the array counts as outside)."""
    padded = np.pad(mask.astype(bool), 1)
    interior = mask.astype(bool).copy()
    for axis in range(3):
        for step in (-1, 1):
            interior &= np.roll(padded, step, axis=axis)[1:-1, 1:-1, 1:-1]
    return interior
