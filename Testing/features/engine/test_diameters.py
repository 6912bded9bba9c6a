"""The maximum diameters from convex hulls (features/kernels.py) against every pair compared, on point sets
that a hull gets wrong if it is built wrongly: blobs, collinear and repeated points, single-point planes,
anisotropic spacing, and the mesh vertices of the sample cases' ROIs."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk

from RadiomicsWorkshopLib.features.kernels import shape as kernels
from RadiomicsWorkshopLib.features.engine import shape

PLANES = ("Maximum2DDiameterSlice", "Maximum2DDiameterColumn", "Maximum2DDiameterRow")


def _every_pair(points: np.ndarray) -> float:
    """The largest distance between two points, every pair compared (in blocks, to bound the memory)."""
    best = 0.0
    for start in range(0, len(points), 1024):
        block = points[start:start + 1024]
        best = max(best, float(((block[:, None, :] - points[None, :, :]) ** 2).sum(axis=2).max()))
    return float(np.sqrt(best))


def _brute_force(lattice: np.ndarray, spacing: np.ndarray) -> dict[str, float]:
    points = lattice * 0.5 * spacing
    out = {"Maximum3DDiameter": _every_pair(points)}
    for axis, name in enumerate(PLANES):
        others = [a for a in range(3) if a != axis]
        out[name] = max(_every_pair(points[lattice[:, axis] == value][:, others])
                        for value in np.unique(lattice[:, axis]))
    return out


def _point_sets():
    rng = np.random.default_rng(7)
    blob = np.unique(np.abs(np.round(rng.normal(size=(3000, 3)) * (8.0, 18.0, 4.0))).astype(np.int64), axis=0)
    yield "gaussian blob", blob
    line = np.zeros((40, 3), dtype=np.int64)
    line[:, 2] = np.arange(40)
    yield "one line (collinear in every plane)", line
    grid = np.array([(z, y, x) for z in range(3) for y in range(6) for x in range(6)], dtype=np.int64)
    yield "a grid (edges full of collinear points)", grid
    sparse = np.unique(rng.integers(0, 40, size=(60, 3)), axis=0)
    yield "sparse planes (many with one or two points)", sparse
    yield "one point", np.array([[3, 4, 5]], dtype=np.int64)


@pytest.mark.parametrize("spacing", [(1.0, 1.0, 1.0), (5.0, 0.7, 1.3)], ids=["isotropic", "anisotropic"])
@pytest.mark.parametrize("label, lattice", list(_point_sets()), ids=lambda v: v if isinstance(v, str) else "")
def test_hull_diameters_equal_every_pair_compared(label, lattice, spacing):
    spacing = np.array(spacing)
    assert shape.diameters(lattice, spacing) == pytest.approx(_brute_force(lattice, spacing), rel=1e-12), label


def test_repeated_and_collinear_points_in_a_plane():
    u = np.array([0.0, 0.0, 1.5, 3.0, 3.0])  # (1.5, 2) lies on the segment from (0, 0) to (3, 4)
    v = np.array([0.0, 0.0, 2.0, 4.0, 4.0])
    assert kernels.farthest_in_plane(u, v) == 25.0
    assert kernels.farthest_in_plane(u[:1], v[:1]) == 0.0


@pytest.mark.parametrize("case", ["brain1", "breast1", "lung2"])
def test_diameters_of_the_sample_rois_equal_every_pair_compared(case, sample_case):
    label = sitk.ReadImage(str(sample_case(case)[1]))
    mask = sitk.GetArrayFromImage(label) == 1
    z, y, x = np.nonzero(mask)
    mask = mask[z.min():z.max() + 1, y.min():y.max() + 1, x.min():x.max() + 1]
    spacing = np.array(label.GetSpacing()[::-1])
    _, _, lattice = shape.mesh(np.pad(mask, 1), spacing)
    assert lattice.dtype.kind == "i" and len(np.unique(lattice, axis=0)) == len(lattice)  # one vertex a cube edge
    assert shape.diameters(lattice, spacing) == pytest.approx(_brute_force(lattice, spacing), rel=1e-12)
