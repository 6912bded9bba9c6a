"""IBSI-1 morphological features PyRadiomics lacks (section 3.1): asphericity, centre of mass shift,
volume and area densities (axis-aligned bounding box, approximate enclosing ellipsoid, convex hull),
integrated intensity, Moran's I and Geary's C; and the axis lengths with the IBSI's sample covariance
(PyRadiomics divides by N, the IBSI consensus by N - 1).

The mesh is the marching-cubes surface of the ROI mask (scikit-image), in millimetres.
"""

from __future__ import annotations

import numpy as np


def mesh(mask: np.ndarray, spacing_zyx: tuple[float, float, float]) -> tuple[np.ndarray, np.ndarray]:
    """Vertices (mm, z, y, x) and triangles of the ROI's surface: marching cubes at 0.5 on the padded mask."""
    from skimage.measure import marching_cubes

    vertices, faces, _, _ = marching_cubes(np.pad(mask.astype(float), 1), level=0.5, spacing=spacing_zyx)
    return vertices, faces


def mesh_volume_and_area(vertices: np.ndarray, faces: np.ndarray) -> tuple[float, float]:
    a, b, c = (vertices[faces[:, k]] for k in range(3))
    volume = abs(np.einsum("ij,ij->i", a, np.cross(b, c)).sum()) / 6.0
    area = np.linalg.norm(np.cross(b - a, c - a), axis=1).sum() / 2.0
    return float(volume), float(area)


def _ellipsoid_area(a: float, b: float, c: float, terms: int = 20) -> float:
    """The IBSI's approximation of an ellipsoid's surface (semi-axes a >= b >= c; Legendre series)."""
    from scipy.special import eval_legendre

    alpha, beta = np.sqrt(1 - b ** 2 / a ** 2), np.sqrt(1 - c ** 2 / a ** 2)
    if alpha * beta == 0:
        return float(4 * np.pi * a * b)
    nu = np.arange(terms + 1)
    series = (alpha * beta) ** nu / (1 - 4 * nu ** 2) * eval_legendre(nu, (alpha ** 2 + beta ** 2) / (2 * alpha * beta))
    return float(4 * np.pi * a * b * series.sum())


def _even_fast_length(minimum: int) -> int:
    from scipy import fft

    length = fft.next_fast_len(minimum, real=True)
    while length % 2:
        length = fft.next_fast_len(length + 1, real=True)
    return length


def _pairwise_autocorrelation(image: np.ndarray, mask: np.ndarray,
                              spacing_zyx: tuple[float, float, float]) -> tuple[float, float]:
    """Moran's I and Geary's C with inverse-distance weights (1/d, d in mm) over every pair of ROI voxels.

    Every pair sum is a quadratic form of the 1/d kernel K: with x the deviations from the ROI mean and m
    the mask, sum w_ij x_i x_j = x . (K * x), sum w_ij = m . (K * m), and for Geary's C
    sum w_ij (x_i - x_j)^2 = 2 (x^2 . (K * m) - x . (K * x)). With a period P >= 2n - 1 per axis (n: the
    ROI's box) no pair wraps round, and by Parseval a . (K * b) = sum_k conj(A_k) B_k S_k / P^3, S the
    kernel's spectrum -- real, K being symmetric, so a DCT-I of one octant gives it. Exact up to rounding;
    three FFTs of the box instead of O(N^2) in the voxel count.
    """
    from scipy import fft

    box = tuple(slice(int(a.min()), int(a.max()) + 1) for a in np.nonzero(mask))
    mask = mask[box]
    n = int(mask.sum())
    values = image[box].astype(float)
    deviation = np.where(mask, values - values[mask].mean(), 0.0)
    period = [_even_fast_length(2 * size - 1) for size in mask.shape]
    octant = np.meshgrid(*[np.arange(p // 2 + 1) * step for p, step in zip(period, spacing_zyx)], indexing="ij")
    distance = np.sqrt(sum(g ** 2 for g in octant))
    beyond = np.meshgrid(*[np.arange(p // 2 + 1) >= size for p, size in zip(period, mask.shape)], indexing="ij")
    with np.errstate(divide="ignore"):
        kernel = np.where((distance > 0) & ~np.logical_or.reduce(beyond), 1.0 / distance, 0.0)
    spectrum = fft.dctn(kernel, type=1)  # the symmetric kernel's spectrum on k = 0..P/2 per axis
    for axis, p in enumerate(period[:-1]):  # rfftn's layout: full length but on the last axis
        spectrum = np.take(spectrum, np.minimum(np.arange(p), p - np.arange(p)), axis=axis)
    half = np.full(period[-1] // 2 + 1, 2.0)
    half[[0, -1]] = 1.0  # bins 0 and P/2 are their own conjugates
    weight = spectrum * half / float(np.prod(period))

    def transform(field: np.ndarray) -> np.ndarray:
        return fft.rfftn(field, period)

    ones, deviations, squares = (transform(f) for f in (mask.astype(float), deviation, deviation ** 2))
    weight_sum = float((np.abs(ones) ** 2 * weight).sum())
    moran = float((np.abs(deviations) ** 2 * weight).sum())
    # (v_i - v_j)^2 does not change when the mean is subtracted: deviations keep the cancellation small
    geary = 2.0 * (float((np.real(np.conj(squares) * ones) * weight).sum()) - moran)
    variance = float((deviation ** 2).sum())
    if n < 2 or variance == 0 or weight_sum == 0:
        return float("nan"), float("nan")
    return n / weight_sum * moran / variance, (n - 1) * geary / (2 * weight_sum * variance)


def morphology_features(image: np.ndarray, mask: np.ndarray, spacing_zyx: tuple[float, float, float],
                        intensity_mask: np.ndarray | None = None) -> dict[str, float]:
    """The features of the ROI ``mask`` (the morphological mask) on ``image`` (z, y, x arrays; spacing in mm).
    ``intensity_mask``: the mask after re-segmentation, for the intensity-weighted ones (default: ``mask``)."""
    from scipy.spatial import ConvexHull

    mask = mask.astype(bool)
    intensity_mask = mask if intensity_mask is None else intensity_mask.astype(bool)
    vertices, faces = mesh(mask, spacing_zyx)
    volume, area = mesh_volume_and_area(vertices, faces)
    points = np.argwhere(mask) * np.asarray(spacing_zyx, dtype=float)
    eigen = np.sort(np.linalg.eigvalsh(np.cov(points, rowvar=False, ddof=1)))[::-1]
    major, minor, least = (4 * np.sqrt(max(e, 0.0)) for e in eigen)
    extent = vertices.max(axis=0) - vertices.min(axis=0)
    hull = ConvexHull(vertices)
    a, b, c = major / 2, minor / 2, least / 2
    intensity_points = np.argwhere(intensity_mask) * np.asarray(spacing_zyx, dtype=float)
    values = image[intensity_mask].astype(float)
    weighted_centre = (intensity_points * values[:, None]).sum(axis=0) / values.sum()
    moran, geary = _pairwise_autocorrelation(image, intensity_mask, spacing_zyx)
    return {
        "MeshVolume": volume, "SurfaceArea": area,
        "Asphericity": float((area ** 3 / (36 * np.pi * volume ** 2)) ** (1 / 3) - 1),
        "CentreOfMassShift": float(np.linalg.norm(points.mean(axis=0) - weighted_centre)),
        "MajorAxisLength": float(major), "MinorAxisLength": float(minor), "LeastAxisLength": float(least),
        "VolumeDensityAABB": volume / float(np.prod(extent)),
        "AreaDensityAABB": area / float(2 * (extent[0] * extent[1] + extent[1] * extent[2] + extent[0] * extent[2])),
        "VolumeDensityAEE": volume / float(4 * np.pi * a * b * c / 3),
        "AreaDensityAEE": area / _ellipsoid_area(a, b, c),
        "VolumeDensityConvexHull": volume / float(hull.volume),
        "AreaDensityConvexHull": area / float(hull.area),
        "IntegratedIntensity": float(volume * values.mean()),
        "MoransI": moran, "GearysC": geary,
    }
