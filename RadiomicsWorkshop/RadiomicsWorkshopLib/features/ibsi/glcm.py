"""Grey level co-occurrence matrix (GLCM) features as the IBSI-1 reference manual defines them (section
3.6), named as PyRadiomics names them (IBSI joint variance is PyRadiomics' ``SumSquares``, sum variance its
``ClusterTendency``, dissimilarity its ``DifferenceAverage``).

The matrix of a direction counts voxel pairs (k, k + direction) inside the ROI by their grey levels,
symmetrically (each pair also as (j, i)), at Chebyshev distance 1. Differences from PyRadiomics' GLCM:
``Ng`` is the discretisation's number of grey levels (``n_levels``), not the levels present, which
changes the normalised inverse differences; grey levels are the IBSI's (``families`` numbers them).
"""

from __future__ import annotations

from typing import Iterable

import numpy as np

from ..kernels import texture as kernels
from .aggregation import DIRECTIONS, by_slice, directional

FEATURES = kernels.GLCM_COLUMNS + ("MCC",)


def cooccurrence(levels: np.ndarray, n_levels: int, directions=DIRECTIONS, symmetric: bool = True,
                 by_slice: bool = True) -> np.ndarray:
    """Co-occurrence counts ``[direction, slice, i - 1, j - 1]`` (slice: of the pair's first voxel), each pair
    also counted as (j, i) when ``symmetric``; ``by_slice`` False: all slices in one, ``[direction, 1, ...]``.
    ``levels``: grey levels 1.. inside the ROI, 0 outside (z, y, x)."""
    return kernels.cooccurrences(np.ascontiguousarray(levels, dtype=np.int64),
                                 np.asarray(directions, dtype=np.int64).reshape(-1, 3), int(n_levels), symmetric,
                                 by_slice)


def features_from_matrix(counts: np.ndarray, voxels=0) -> dict:
    """The GLCM features of one matrix of counts (Ng x Ng: floats) or of a stack (``[k, i, j]``: arrays over
    k); NaN for an empty one. The sums run in one compiled pass per matrix (``kernels.glcm_features``)."""
    m = np.asarray(counts, dtype=float)
    single = m.ndim == 2
    if single:
        m = m[None]
    m = np.ascontiguousarray(m)
    found = kernels.glcm_features(m)
    out = {name: found[:, c] for c, name in enumerate(kernels.GLCM_COLUMNS)}
    with np.errstate(divide="ignore", invalid="ignore"):
        p = m / m.sum(axis=(1, 2))[:, None, None]
    out["MCC"] = _mcc(p, p.sum(axis=2), p.sum(axis=1), np.isnan(found[:, 0]))
    out = {name: out[name] for name in FEATURES}
    return {name: float(v[0]) for name, v in out.items()} if single else out


features_from_matrix.stacked = True


def _mcc(p: np.ndarray, px: np.ndarray, py: np.ndarray, empty: np.ndarray) -> np.ndarray:
    """Maximal correlation coefficient of each matrix of a stack, as PyRadiomics computes it: the square root
    of the second largest eigenvalue of Q (Q_ij = sum_k p_ik p_jk / (px_i py_k + eps)) over the grey levels
    present in the stack's matrices, a level without pairs in one matrix kept as zeros; 1 with one level."""
    present = (np.nansum(p, axis=(0, 2)) + np.nansum(p, axis=(0, 1))) > 0  # empty matrices are NaN
    out = np.full(len(p), np.nan)
    if present.sum() < 2:
        out[~empty] = 1.0
        return out
    # Q = Dx^-1 P Dy^-1 P^T is similar to B B^T, B = Dx^-1/2 P Dy^-1/2: Q's eigenvalues are B's singular
    # values squared (eps, 2e-16 beside products px_i py_k of at least 1 / pairs^2, dropped)
    full = np.nonzero(~empty)[0]
    sub = p[full][:, present][:, :, present]
    with np.errstate(divide="ignore", invalid="ignore"):
        b = sub / np.sqrt(px[full][:, present, None] * py[full][:, None, present])
    b[~np.isfinite(b)] = 0.0  # a level without pairs in this matrix: a zero row or column, as in Q
    out[full] = np.linalg.svd(b, compute_uv=False)[:, 1]  # all matrices in one call; descending
    return out


def glcm_by_aggregation(levels: np.ndarray, n_levels: int, aggregations: Iterable[str], directions=None,
                        symmetric: bool = True, weights=None) -> dict[str, dict[str, float]]:
    """GLCM features of a discretised ROI (grey levels 1..n_levels inside, 0 outside; z, y, x, slices
    along z) for each of the IBSI's directional aggregations (``aggregation.DIRECTIONAL``). ``directions``:
    PyRadiomics' angles where its settings give others (``aggregation.offsets``; all then count as the
    aggregation's directions); ``weights``: per direction, for merging (its ``weightingNorm``)."""
    aggregations = tuple(aggregations)
    if directions is None:
        three_d = any(a.startswith("3D") for a in aggregations)
        directions = DIRECTIONS if three_d else DIRECTIONS[:4]
    matrices = cooccurrence(levels, n_levels, directions, symmetric, by_slice=by_slice(aggregations))
    in_plane = sum(1 for d in directions if d[0] == 0)
    return directional(matrices, (levels > 0).sum(axis=(1, 2)), features_from_matrix, aggregations, in_plane,
                       weights)
