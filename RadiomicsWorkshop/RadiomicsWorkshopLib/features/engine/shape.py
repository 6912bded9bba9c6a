"""PyRadiomics' shape features (its ``shape`` class) computed by us, to PyRadiomics' numbers: the same
marching-cubes mesh of the ROI (vertices at the edges' midpoints, PyRadiomics' triangle table with cube
indices >= 128 taken as their complement, orientation flipped), its volume, area and diameters, and the
principal axes of the voxel centres (covariance divided by N).

The triangle table is PyRadiomics 3.0.1's (radiomics/src/cshape.c; the classic Lorensen / Bourke table's
first 128 cases), copied as data: Copyright 2017 Harvard Medical School, BSD 3-Clause licence
(https://github.com/AIM-Harvard/pyradiomics/blob/master/LICENSE.txt). The mesh is computed for all cubes at
once with numpy, the diameters from the vertices' convex hulls (``kernels``) instead of every pair.
"""

from __future__ import annotations

from typing import Iterable

import numpy as np

from ..kernels import shape as kernels

#: PyRadiomics' shape features when its section names none (the deprecated three only when named).
FEATURES = ("Elongation", "Flatness", "LeastAxisLength", "MajorAxisLength", "Maximum2DDiameterColumn",
            "Maximum2DDiameterRow", "Maximum2DDiameterSlice", "Maximum3DDiameter", "MeshVolume", "MinorAxisLength",
            "Sphericity", "SurfaceArea", "SurfaceVolumeRatio", "VoxelVolume")
DEPRECATED = ("Compactness1", "Compactness2", "SphericalDisproportion")

#: The cube's corners (z, y, x), bit a of the cube index being corner a.
CORNERS = np.array([(0, 0, 0), (0, 0, 1), (0, 1, 1), (0, 1, 0), (1, 0, 0), (1, 0, 1), (1, 1, 1), (1, 1, 0)])
#: The midpoints of the cube's 12 edges (z, y, x).
EDGES = np.array([(0, 0, .5), (0, .5, 1), (0, 1, .5), (0, .5, 0), (1, 0, .5), (1, .5, 1), (1, 1, .5), (1, .5, 0),
                  (.5, 0, 0), (.5, 0, 1), (.5, 1, 1), (.5, 1, 0)])
#: Cube index (0..127) -> its triangles' edges, three hex digits a triangle.
TRIANGLES = (
    "", "083", "190", "183198", "12a", "08312a", "92a029", "2832a8a98", "b23", "b2008b", "190b23", "b2119b98b",
    "3a1ba3", "a1008a8ba", "9033b9ba9", "98aba8", "478", "043473", "190478", "194147173", "12a478",
    "34730412a", "92a902478", "2a9297273479", "478b23", "b47b24204", "190478b23", "47b94bb29192", "3a1ba3478",
    "ba114b10447b", "4789033b9ba9", "47b4b99ba", "954", "954083", "054015", "854835315", "12a954", "08312a954",
    "2a5542240", "2a5325354834", "954b23", "b2008b954", "054015b23", "215258b28548", "3a1ba3954",
    "549a1008a8ba", "54050ba5bb03", "548a58ba8", "789579", "309539357", "780017715", "157173", "78957912a",
    "12a309395357", "0288258572a5", "2a5253357", "579789b23", "579972209b27", "b23018178157", "21b17b157",
    "7895793a1ba3", "5705097b0a10ba0", "ba003ba50078570", "ba557b", "65a", "08365a", "19065a", "18319865a",
    "165126", "165126083", "965906026", "598582526832", "b2365a", "b2008b65a", "190b2365a", "b2119b98b65a",
    "63b653513", "08b0b50515b6", "63b036065059", "65969bb98", "47865a", "04347365a", "19047865a",
    "19414717365a", "478165126", "043473165126", "478965906026", "739479329596269", "b2347865a",
    "b47b2420465a", "190b2347865a", "47b94bb2919265a", "47863b653513", "51b5b610b47b04b", "47863b036065059",
    "65969b4797b9", "a4964a", "a4964a083", "01aa60640", "18316886461a", "149124264", "149124264083", "024426",
    "832824426", "b23a4964a", "b2008ba4964a", "b2301aa60640", "64161a148b2118b", "964369139b63",
    "18b081b61149641", "63b036640", "86468b", "67a78a89a", "67a0a709a073", "67a1a7178018", "67a1a7173",
    "126168189678", "269129679309739", "078706602", "273267", "b2367a78a89a", "207b2709767a9a7",
    "67a1a7178018b23", "b2117ba61167", "896678169b63136", "09167b", "07870603bb60", "67b",
)


def _triangle_edges() -> np.ndarray:
    """[cube index 0..127, triangle 0..4, corner 0..2] -> edge (-1: no triangle)."""
    out = -np.ones((128, 5, 3), dtype=np.int64)
    for index, text in enumerate(TRIANGLES):
        for t in range(len(text) // 3):
            out[index, t] = [int(c, 16) for c in text[3 * t:3 * t + 3]]
    return out


_EDGES_OF = _triangle_edges()


def _cubes(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every 2 x 2 x 2 cube of the (padded) mask: its index (0..127 after the flip) and orientation sign."""
    nz, ny, nx = (n - 1 for n in mask.shape)
    index = np.zeros((nz, ny, nx), dtype=np.int64)
    for bit, (dz, dy, dx) in enumerate(CORNERS):
        index |= mask[dz:dz + nz, dy:dy + ny, dx:dx + nx].astype(np.int64) << bit
    flipped = (index & 0x80) != 0
    index = np.where(flipped, index ^ 0xFF, index)
    return index, np.where(flipped, -1.0, 1.0)


def mesh(mask: np.ndarray, spacing: Iterable[float]) -> tuple[float, float, np.ndarray]:
    """(surface area, volume, vertices for the diameters) of the ROI's mesh, as PyRadiomics computes them;
    the vertices as twice their (z, y, x) voxel coordinates (whole numbers). ``mask``: bool (z, y, x), padded
    with a layer of 0s; ``spacing``: (z, y, x) in mm."""
    index, sign = _cubes(mask)
    # the diameters' vertices: each cube's points on edges 6, 7, 11 where corners 6, 4, 3 are in the ROI
    return kernels.mesh(index, sign, _EDGES_OF, EDGES.astype(float), np.asarray(tuple(spacing), dtype=float),
                        _VERTEX_EDGES)


#: (corner, edge): a diameter vertex on the edge's midpoint of every cube with the corner in the ROI.
_VERTEX_EDGES = np.array([(6, 6), (4, 7), (3, 11)])


def diameters(lattice: np.ndarray, spacing: Iterable[float]) -> dict[str, float]:
    """PyRadiomics' maximum diameters: in 3D, and between vertices of the same slice (z), column (y), row (x).
    ``lattice``: the mesh's vertices, twice their (z, y, x) voxel coordinates (``mesh``); ``spacing``: mm."""
    squared = kernels.lattice_diameters(np.ascontiguousarray(lattice, dtype=np.int64),
                                        np.asarray(tuple(spacing), dtype=float))
    return dict(zip(("Maximum3DDiameter", "Maximum2DDiameterSlice", "Maximum2DDiameterColumn",
                     "Maximum2DDiameterRow"), np.sqrt(squared).tolist()))


def principal_axes(mask: np.ndarray, spacing: np.ndarray) -> tuple[int, list[float]]:
    """(voxel count, eigenvalues from small to large) of the covariance of the ROI's voxel centres in mm,
    divided by N as PyRadiomics divides it; rounding errors just under 0 set to 0 as it does."""
    # from the mask's projections onto each pair of axes (voxel counts), not a list of its voxels
    n = mask.ndim
    along = [mask.sum(axis=tuple(a for a in range(n) if a != axis), dtype=float) for axis in range(n)]
    voxels = along[0].sum()
    centred = []
    for axis, counts in enumerate(along):
        position = np.arange(len(counts)) * spacing[axis]
        centred.append(position - (counts @ position) / voxels)
    covariance = np.empty((n, n))
    for a in range(n):
        covariance[a, a] = along[a] @ centred[a] ** 2
        for b in range(a + 1, n):
            counts = mask.sum(axis=tuple(c for c in range(n) if c not in (a, b)), dtype=float)
            covariance[a, b] = covariance[b, a] = centred[a] @ counts @ centred[b]
    eigenvalues = np.linalg.eigvals(covariance / voxels)
    eigenvalues[(eigenvalues < 0) & (eigenvalues > -1e-10)] = 0
    eigenvalues.sort()
    return int(voxels), [float(e) for e in eigenvalues]


def shape_features(mask: np.ndarray, spacing: Iterable[float], names: Iterable[str] | None = None) -> dict[str, float]:
    """PyRadiomics' shape features of an ROI (bool, z, y, x; the box PyRadiomics crops it to) and spacing (z, y, x)."""
    names = tuple(names) if names else FEATURES
    spacing = np.asarray(tuple(spacing), dtype=float)
    padded = np.pad(mask.astype(bool), 1)
    area, volume, vertices = mesh(padded, spacing)
    voxels, eigenvalues = principal_axes(padded, spacing)
    least, minor, major = eigenvalues
    out = {"MeshVolume": volume, "VoxelVolume": voxels * float(np.prod(spacing)), "SurfaceArea": area,
           "SurfaceVolumeRatio": area / volume, "Sphericity": (36 * np.pi * volume ** 2) ** (1 / 3) / area,
           "Compactness1": volume / (area ** 1.5 * np.sqrt(np.pi)), "Compactness2": 36 * np.pi * volume ** 2 / area ** 3,
           "SphericalDisproportion": area / (36 * np.pi * volume ** 2) ** (1 / 3),
           "MajorAxisLength": 4 * np.sqrt(major) if major >= 0 else np.nan,
           "MinorAxisLength": 4 * np.sqrt(minor) if minor >= 0 else np.nan,
           "LeastAxisLength": 4 * np.sqrt(least) if least >= 0 else np.nan,
           "Elongation": np.sqrt(minor / major) if min(minor, major) >= 0 else np.nan,
           "Flatness": np.sqrt(least / major) if min(least, major) >= 0 else np.nan}
    if any(n.startswith("Maximum") for n in names):
        out.update(diameters(vertices, spacing))
    unknown = set(names) - set(out)
    if unknown:
        raise ValueError(f"unknown shape feature(s) {sorted(unknown)}")
    return {name: float(out[name]) for name in names}


#: PyRadiomics' shape2D features when its section names none (SphericalDisproportion only when named).
FEATURES_2D = ("Elongation", "MajorAxisLength", "MaximumDiameter", "MeshSurface", "MinorAxisLength", "Perimeter",
               "PerimeterSurfaceRatio", "PixelSurface", "Sphericity")
DEPRECATED_2D = ("SphericalDisproportion",)
#: The square's corners (y, x), its edges' midpoints, and square index -> its lines' edges (marching squares,
#: PyRadiomics' ``lineTable2D``).
CORNERS_2D = np.array([(0, 0), (0, 1), (1, 1), (1, 0)])
EDGES_2D = np.array([(0, .5), (.5, 1), (1, .5), (.5, 0)])
LINES_2D = ("", "30", "01", "31", "12", "1230", "02", "32", "23", "20", "0123", "21", "13", "10", "03", "")


def _lines_of() -> np.ndarray:
    out = -np.ones((16, 2, 2), dtype=np.int64)
    for index, text in enumerate(LINES_2D):
        for t in range(len(text) // 2):
            out[index, t] = [int(text[2 * t]), int(text[2 * t + 1])]
    return out


_LINES_OF = _lines_of()


def contour(mask: np.ndarray, spacing: Iterable[float]) -> tuple[float, float, np.ndarray]:
    """(perimeter, surface, vertices for the diameter) of the ROI's contour, as PyRadiomics computes them.
    ``mask``: bool (y, x), padded with 0s."""
    spacing = np.asarray(tuple(spacing), dtype=float)
    ny, nx = (n - 1 for n in mask.shape)
    index = np.zeros((ny, nx), dtype=np.int64)
    for bit, (dy, dx) in enumerate(CORNERS_2D):
        index |= mask[dy:dy + ny, dx:dx + nx].astype(np.int64) << bit
    where = np.nonzero((index != 0) & (index != 0xF))
    origins = np.stack(where, axis=1).astype(float)
    lines = _LINES_OF[index[where]]
    square, line = np.nonzero(lines[:, :, 0] >= 0)
    ends = (origins[square, None, :] + EDGES_2D[lines[square, line]]) * spacing  # (lines, 2 ends, yx)
    a, b = ends[:, 0], ends[:, 1]
    surface = float((a[:, 0] * b[:, 1] - b[:, 0] * a[:, 1]).sum() / 2)
    perimeter = float(np.sqrt(((a - b) ** 2).sum(axis=1)).sum())
    flipped = np.where(index[where] > 7, index[where] ^ 0xF, index[where])
    vertices = [(origins[(flipped & (1 << corner)) != 0] + EDGES_2D[edge]) * spacing for corner, edge in ((0, 3), (2, 2))]
    return perimeter, surface, np.concatenate(vertices)


def _diameter_2d(vertices: np.ndarray) -> float:
    """The largest distance between two vertices (n x 2): between two of their convex hull's vertices."""
    order = np.lexsort((vertices[:, 1], vertices[:, 0]))
    return float(np.sqrt(kernels.farthest_in_plane(vertices[order, 0], vertices[order, 1])))


def shape2d_features(mask: np.ndarray, spacing: Iterable[float], names: Iterable[str] | None = None) -> dict[str, float]:
    """PyRadiomics' shape2D features of a 2D ROI (bool, y, x) and its spacing (y, x)."""
    names = tuple(names) if names else FEATURES_2D
    spacing = np.asarray(tuple(spacing), dtype=float)
    padded = np.pad(mask.astype(bool), 1)
    perimeter, surface, vertices = contour(padded, spacing)
    pixels, (minor, major) = principal_axes(padded, spacing)
    sphericity = 2 * np.sqrt(np.pi * surface) / perimeter
    out = {"MeshSurface": surface, "PixelSurface": pixels * float(np.prod(spacing)), "Perimeter": perimeter,
           "PerimeterSurfaceRatio": perimeter / surface, "Sphericity": sphericity,
           "SphericalDisproportion": 1 / sphericity, "MaximumDiameter": _diameter_2d(vertices),
           "MajorAxisLength": 4 * np.sqrt(major) if major >= 0 else np.nan,
           "MinorAxisLength": 4 * np.sqrt(minor) if minor >= 0 else np.nan,
           "Elongation": np.sqrt(minor / major) if min(minor, major) >= 0 else np.nan}
    unknown = set(names) - set(out)
    if unknown:
        raise ValueError(f"unknown shape2D feature(s) {sorted(unknown)}")
    return {name: float(out[name]) for name in names}
