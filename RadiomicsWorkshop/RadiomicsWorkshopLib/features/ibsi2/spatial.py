"""The IBSI-2 filters defined by kernels in image space: mean, Laplacian of Gaussian, Laws and Gabor
(reference manual, chapter "Convolutional filters"), on arrays in (z, y, x) order with the voxel spacing
in mm in the same order. ``planar`` filters work in the (y, x) plane of every slice; the others in 3D.

Separable kernels run as 1D convolutions along each axis (``scipy.ndimage.convolve1d``), with SciPy's
boundary modes for the IBSI's conditions (``MODES``); Gabor's complex kernel is not separable in its
rotated frame and runs as one 2D convolution per slice and plane.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from scipy import ndimage, signal

from .rotation import IDENTITY, orientations, pooled, rotated

#: the IBSI's boundary conditions -> SciPy's modes ("mirror" is symmetric about the edge: d c b a | a b c d)
MODES = {"zero": "constant", "nearest": "nearest", "periodic": "wrap", "mirror": "reflect"}


def mode_of(boundary: str) -> str:
    if boundary not in MODES:
        raise ValueError(f"boundary condition {boundary!r}: use one of {', '.join(MODES)}")
    return MODES[boundary]


def separable(array: np.ndarray, kernels: Sequence[np.ndarray | None], boundary: str) -> np.ndarray:
    """``array`` convolved with one 1D kernel per array axis (None: that axis untouched)."""
    out = np.asarray(array, dtype=float)
    for axis, kernel in enumerate(kernels):
        if kernel is not None:
            out = ndimage.convolve1d(out, np.asarray(kernel, dtype=float), axis=axis, mode=mode_of(boundary))
    return out


def filtered_axes(dimension: int, planar: bool) -> tuple[int, ...]:
    """The array axes a filter works along: (y, x) of each slice, or all three."""
    return (dimension - 2, dimension - 1) if planar else tuple(range(dimension))


def mean_filter(array: np.ndarray, support: int, boundary: str, planar: bool = False) -> np.ndarray:
    """The average over a cube (square) of ``support`` voxels a side (odd)."""
    if support < 1 or support % 2 == 0:
        raise ValueError(f"mean filter support {support}: an odd number of voxels")
    axes = filtered_axes(array.ndim, planar)
    kernel = np.full(support, 1.0 / support)
    return separable(array, [kernel if a in axes else None for a in range(array.ndim)], boundary)


def gaussian_kernels(sigma_mm: float, spacing: Sequence[float], truncate: float) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per axis: (the 1D Gaussian, its second derivative per voxel squared) sampled at whole voxels, over
    1 + 2 floor(truncate sigma / spacing + 0.5) voxels, unnormalised after truncation (the IBSI's kernel;
    the reference maps' second derivative is per voxel, not per mm)."""
    found = []
    for step in spacing:
        half = int(np.floor(truncate * sigma_mm / step + 0.5))
        x = np.arange(-half, half + 1) * step
        g = np.exp(-x ** 2 / (2 * sigma_mm ** 2)) / np.sqrt(2 * np.pi * sigma_mm ** 2) * step
        found.append((g, g * (x ** 2 / sigma_mm ** 4 - 1 / sigma_mm ** 2) * step ** 2))
    return found


def laplacian_of_gaussian(array: np.ndarray, spacing: Sequence[float], sigma_mm: float, boundary: str,
                          truncate: float = 4.0, planar: bool = False) -> np.ndarray:
    """The LoG response: the sum over the filtered axes of the Gaussian's second derivative along one
    axis times the Gaussian along the others (the kernel -1/s^2 (2 pi s^2)^(-d/2) (d - r^2/s^2)
    exp(-r^2 / 2 s^2), s = sigma in mm), not normalised across scale."""
    axes = filtered_axes(array.ndim, planar)
    kernels = gaussian_kernels(sigma_mm, spacing, truncate)
    total = np.zeros(array.shape)
    for second in axes:
        total += separable(array, [None if a not in axes else kernels[a][1] if a == second else kernels[a][0]
                                   for a in range(array.ndim)], boundary)
    return total


#: Laws' 1D kernels (Laws 1980; the IBSI's table), normalised to unit L2 norm when applied
LAWS = {"L3": [1, 2, 1], "E3": [-1, 0, 1], "S3": [-1, 2, -1],
        "L5": [1, 4, 6, 4, 1], "E5": [-1, -2, 0, 2, 1], "S5": [-1, 0, 2, 0, -1], "W5": [-1, 2, 0, -2, 1],
        "R5": [1, -4, 6, -4, 1]}


def laws_kernels(name: str) -> list[np.ndarray]:
    """'E5L5S5' -> its 1D kernels in the name's order (x, y, z), each of unit L2 norm."""
    parts = [name[i:i + 2] for i in range(0, len(name), 2)]
    if len(name) % 2 or not parts or any(p not in LAWS for p in parts):
        raise ValueError(f"Laws kernel {name!r}: a combination of {', '.join(LAWS)} (x, y[, z] in that order)")
    return [np.asarray(LAWS[p], dtype=float) / np.linalg.norm(LAWS[p]) for p in parts]


def laws_filter(array: np.ndarray, name: str, boundary: str, rotation_invariant: bool = False,
                pooling: str = "max", energy_distance: int | None = None) -> np.ndarray:
    """Laws' response for a kernel named in (x, y[, z]) order: 2D names work in each slice's plane.
    ``rotation_invariant``: pooled over the kernel's right-angle orientations; ``energy_distance`` d:
    then the mean of the absolute response over a (2d + 1) cube (square), same boundary condition."""
    named = laws_kernels(name)
    planar = len(named) == 2
    if len(named) not in (2, 3) or (len(named) == 3 and array.ndim != 3):
        raise ValueError(f"Laws kernel {name!r}: two kernels (in-plane) or three (3D)")
    per_axis = named[::-1]  # (x, y[, z]) -> array order ([z,] y, x)
    dimension = len(per_axis)
    lead = [None] * (array.ndim - dimension)

    def response(orientation) -> np.ndarray:
        return separable(array, lead + rotated(per_axis, orientation), boundary)

    if rotation_invariant:
        out = pooled((response(o) for o in orientations(dimension)), pooling)
    else:
        out = response(IDENTITY[dimension])
    if energy_distance is not None:
        out = mean_filter(np.abs(out), 2 * int(energy_distance) + 1, boundary, planar=planar)
    return out


def gabor_kernel(sigma_mm: float, wavelength_mm: float, gamma: float, theta: float, spacing: Sequence[float],
                 truncate: float) -> np.ndarray:
    """The complex 2D Gabor kernel on the (y, x) voxel grid of ``spacing`` (mm): a Gaussian envelope of
    widths sigma (along the wave) and sigma / gamma (across it) times exp(i 2 pi x' / lambda), the wave
    along direction ``theta`` (radians, counter-clockwise from x). The grid reaches ``truncate`` times
    the envelope's larger width (sigma / gamma where gamma < 1) on every side."""
    reach = truncate * sigma_mm / min(gamma, 1.0)
    half = [int(np.floor(reach / step + 0.5)) for step in spacing]
    y, x = np.meshgrid(*(np.arange(-h, h + 1) * step for h, step in zip(half, spacing)), indexing="ij")
    along = x * np.cos(theta) + y * np.sin(theta)
    across = -x * np.sin(theta) + y * np.cos(theta)
    envelope = np.exp(-(along ** 2 + gamma ** 2 * across ** 2) / (2 * sigma_mm ** 2))
    return envelope * np.exp(1j * 2 * np.pi * along / wavelength_mm)


#: the IBSI's boundary conditions -> NumPy's padding modes (the same extensions as ``MODES``)
PAD_MODES = {"zero": "constant", "nearest": "edge", "periodic": "wrap", "mirror": "symmetric"}


def convolve_in_plane(array: np.ndarray, kernel: np.ndarray, boundary: str) -> np.ndarray:
    """Each slice (the last two axes) convolved with a 2D kernel (odd sizes) by FFT, the image extended
    by the kernel's half-size under the boundary condition: the result of a direct convolution."""
    half = [n // 2 for n in kernel.shape]
    pad = [(0, 0)] * (array.ndim - 2) + [(h, h) for h in half]
    padded = np.pad(array, pad, mode=PAD_MODES[boundary]) if boundary in PAD_MODES else mode_of(boundary)
    return signal.fftconvolve(padded, kernel.reshape((1,) * (array.ndim - 2) + kernel.shape), mode="valid",
                              axes=(array.ndim - 2, array.ndim - 1))


def _gabor_in_plane(array: np.ndarray, spacing: Sequence[float], thetas: Sequence[float], sigma_mm: float,
                    wavelength_mm: float, gamma: float, boundary: str, truncate: float) -> np.ndarray:
    """Mean over ``thetas`` of the modulus of the Gabor response in the plane of the last two axes."""
    total = np.zeros(array.shape)
    for theta in thetas:
        kernel = gabor_kernel(sigma_mm, wavelength_mm, gamma, theta, spacing[-2:], truncate)
        total += np.abs(convolve_in_plane(array, kernel, boundary))
    return total / len(thetas)


def gabor_filter(array: np.ndarray, spacing: Sequence[float], sigma_mm: float, wavelength_mm: float, gamma: float,
                 theta_deg: float = 0.0, boundary: str = "mirror", theta_step_deg: float | None = None,
                 orthogonal_planes: bool = False, truncate: float = 4.0) -> np.ndarray:
    """The modulus of the Gabor response in each axial slice. ``theta_step_deg``: averaged over the
    orientations theta, theta + step, ... (a full turn); ``orthogonal_planes``: averaged over the axial,
    coronal and sagittal planes as well (the IBSI's 3D rotation invariance of a 2D filter)."""
    array = np.asarray(array, dtype=float)
    start = np.deg2rad(theta_deg)
    thetas = [start] if theta_step_deg is None else \
        [start + np.deg2rad(theta_step_deg) * k for k in range(int(round(360.0 / theta_step_deg)))]

    def in_plane(a: np.ndarray, s: Sequence[float]) -> np.ndarray:
        return _gabor_in_plane(a, s, thetas, sigma_mm, wavelength_mm, gamma, boundary, truncate)

    axial = in_plane(array, spacing)
    if not orthogonal_planes:
        return axial
    z, y, x = spacing
    coronal = np.moveaxis(in_plane(np.moveaxis(array, 1, 0), (y, z, x)), 0, 1)  # plane (z, x)
    sagittal = np.moveaxis(in_plane(np.moveaxis(array, 2, 0), (x, z, y)), 0, 2)  # plane (z, y)
    return (axial + coronal + sagittal) / 3.0
