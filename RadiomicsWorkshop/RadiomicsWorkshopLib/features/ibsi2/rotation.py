"""Rotation invariance of the IBSI-2 filters (reference manual, section "Rotation invariance"): a filter
is applied in every right-angle orientation of its kernel (24 in 3D, 4 in an image plane) and the
responses are pooled voxel by voxel (max or average).

A right-angle rotation of a separable kernel is again separable: it sends each array axis to another
one, possibly reversed. So an orientation is a signed axis permutation: ``(source axis, reversed)`` per
array axis, and a filter applies its 1D kernels along the permuted axes, reversing those flagged.
"""

from __future__ import annotations

import itertools
from typing import Callable, Iterator

import numpy as np

#: one orientation: for each array axis, (which kernel axis it takes, whether that kernel is reversed)
Orientation = tuple[tuple[int, bool], ...]


def orientations(dimension: int) -> list[Orientation]:
    """The proper rotations (determinant +1) of the cube (24, ``dimension`` 3) or the square (4)."""
    found = []
    for permutation in itertools.permutations(range(dimension)):
        for signs in itertools.product((False, True), repeat=dimension):
            matrix = np.zeros((dimension, dimension))
            for axis, (source, reverse) in enumerate(zip(permutation, signs)):
                matrix[axis, source] = -1.0 if reverse else 1.0
            if round(np.linalg.det(matrix)) == 1:
                found.append(tuple(zip(permutation, signs)))
    return found


IDENTITY = {2: ((0, False), (1, False)), 3: ((0, False), (1, False), (2, False))}


def rotated(kernels: list[np.ndarray], orientation: Orientation) -> list[np.ndarray]:
    """The 1D kernels of a separable kernel (one per array axis) in another orientation."""
    return [kernels[source][::-1] if reverse else kernels[source] for source, reverse in orientation]


def pooled(responses: Iterator[np.ndarray], pooling: str) -> np.ndarray:
    """Voxel-by-voxel ``max``, ``min`` or ``mean`` of the responses, accumulated one at a time."""
    combine: Callable[[np.ndarray, np.ndarray], np.ndarray] = {"max": np.maximum, "min": np.minimum,
                                                                "mean": np.add}[pooling]
    total, count = None, 0
    for response in responses:
        total = response.copy() if total is None else combine(total, response, out=total)
        count += 1
    if total is None:
        raise ValueError("no orientation to pool")
    return total / count if pooling == "mean" else total
