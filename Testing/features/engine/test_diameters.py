"""The maximum diameters from convex hulls (features/kernels.py) against every pair compared, on point sets
that a hull gets wrong if it is built wrongly: blobs, collinear and repeated points, single-point planes,
and the mesh vertices of the sample cases' ROIs."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk

from RadiomicsWorkshopLib.features import kernels
from RadiomicsWorkshopLib.features.engine import shape

PLANES = ("Maximum2DDiameterSlice", "Maximum2DDiameterColumn", "Maximum2DDiameterRow")


def _every_pair(points: np.ndarray) -> float:
    """The largest distance between two points, every pair compared (in blocks, to bound the memory)."""
    best = 0.0
    for start in range(0, len(points), 1024):
        block = points[start:start + 1024]
        best = max(best, float(((block[:, None, :] - points[None, :, :]) ** 2).sum(axis=2).max()))
    return float(np.sqrt(best))


def _brute_force(vertices: np.ndarray) -> dict[str, float]:
    out = {"Maximum3DDiameter": _every_pair(vertices)}
    for axis, name in enumerate(PLANES):
        others = [a for a in range(3) if a != axis]
        out[name] = max(_every_pair(vertices[vertices[:, axis] == value][:, others])
                        for value in np.unique(vertices[:, axis]))
    return out


def _point_sets():
    rng = np.random.default_rng(7)
    blob = rng.normal(size=(3000, 3)) * (4.0, 9.0, 2.0)
    yield "gaussian blob on a half-voxel lattice", np.round(blob * 2) / 2
    line = np.zeros((40, 3))
    line[:, 2] = np.arange(40) * 0.7
    yield "one line (collinear in every plane)", line
    square = np.array([(z, y, x) for z in range(3) for y in range(6) for x in range(6)], dtype=float)
    yield "a grid (edges full of collinear points)", square
    thin = rng.uniform(-5, 5, size=(500, 3))
    thin[:, 0] = rng.integers(0, 40, size=500)  # many planes holding one or two points
    yield "sparse planes", thin


@pytest.mark.parametrize("label, points", list(_point_sets()), ids=lambda v: v if isinstance(v, str) else "")
def test_hull_diameters_equal_every_pair_compared(label, points):
    found = shape.diameters(np.ascontiguousarray(points))
    expected = _brute_force(points)
    assert found == pytest.approx(expected, rel=1e-12), label


def test_repeated_points_do_not_hide_the_farthest_pair():
    points = np.array([[0, 0, 0], [0, 0, 0], [0, 3, 4], [0, 3, 4], [0, 1.5, 2]], dtype=float)
    order = np.lexsort((points[:, 2], points[:, 1]))
    squared, on_hull = kernels.plane_hulls(points[order, 1], points[order, 2], np.array([0, len(points)]))
    assert squared == 25.0
    assert on_hull.sum() == 2  # one of each repeated corner; (1.5, 2) lies on the segment between them


@pytest.mark.parametrize("case", ["brain1", "breast1", "lung2"])
def test_diameters_of_the_sample_rois_equal_every_pair_compared(case, sample_case):
    label = sitk.ReadImage(str(sample_case(case)[1]))
    mask = sitk.GetArrayFromImage(label) == 1
    z, y, x = np.nonzero(mask)
    mask = mask[z.min():z.max() + 1, y.min():y.max() + 1, x.min():x.max() + 1]
    _, _, vertices = shape.mesh(np.pad(mask, 1), np.array(label.GetSpacing()[::-1]))
    assert shape.diameters(vertices) == pytest.approx(_brute_force(vertices), rel=1e-12)
