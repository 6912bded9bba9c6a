"""Perturbations of one case, as Zwanenburg et al. (Sci Rep 2019, "Assessing robustness of radiomic
features by image perturbation") define them: additive noise at the image's own noise level, in-plane
rotation and sub-voxel translation of image and ROI together, ROI growth or shrinkage (by a distance or a
volume fraction), and supervoxel-based contour randomisation, alone or combined (letters R, N, T, V, C).

Every perturbation is a seeded, recorded :class:`Perturbation`; :func:`perturb` applies it to a SimpleITK
image and label map and returns new ones (each label perturbed on its own, overlaps: the higher label).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import SimpleITK as sitk

#: what each letter of a perturbation set changes
LETTERS = {"R": "rotation", "N": "noise", "T": "translation", "V": "volume adaptation", "C": "contour randomisation"}
ANGLES = tuple(float(a) for a in range(-15, 16, 5))  # degrees, in-plane
SHIFTS = (0.0, 0.25, 0.5, 0.75)  # voxel fractions per axis
VOLUMES = (-0.2, -0.1, 0.0, 0.1, 0.2)  # fractions of the ROI's volume


@dataclass(frozen=True)
class Perturbation:
    """One perturbation; defaults change nothing. ``seed`` drives the noise and the randomised contour."""

    index: int = 0
    angle: float = 0.0  # degrees, about the image's slice axis through the ROI's centre
    shift: tuple[float, float, float] = (0.0, 0.0, 0.0)  # voxel fractions along the image's x, y, z
    noise: bool = False
    volume: float | None = None  # ROI growth (+) or shrinkage (-) as a fraction of its volume
    grow_mm: float | None = None  # or by a distance in mm
    randomise: bool = False  # supervoxel contour randomisation
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def name(self) -> str:
        return f"p{self.index:03d}"


def perturbation_set(letters: str = "RNTC", count: int = 30, seed: int = 0) -> list[Perturbation]:
    """``count`` perturbations combining the letters' changes, their parameters drawn (seeded) from the
    grids ``ANGLES``, ``SHIFTS`` and ``VOLUMES``."""
    unknown = sorted(set(letters) - set(LETTERS))
    if unknown or not letters:
        raise ValueError(f"perturbation letters {letters!r}: use some of {', '.join(f'{k} ({v})' for k, v in LETTERS.items())}")
    if count < 2:
        raise ValueError(f"{count} perturbations: agreement needs at least 2")
    rng = np.random.default_rng(seed)
    found = []
    for index in range(count):
        found.append(Perturbation(
            index=index,
            angle=float(rng.choice(ANGLES)) if "R" in letters else 0.0,
            shift=tuple(float(s) for s in rng.choice(SHIFTS, size=3)) if "T" in letters else (0.0, 0.0, 0.0),
            noise="N" in letters, volume=float(rng.choice(VOLUMES)) if "V" in letters else None,
            randomise="C" in letters, seed=int(rng.integers(2 ** 31))))
    return found


def noise_level(image: sitk.Image) -> float:
    """The image's noise standard deviation, estimated from its finest diagonal wavelet detail (Donoho's
    median absolute deviation / 0.6745, Haar, over the whole image)."""
    import pywt

    array = sitk.GetArrayFromImage(image).astype(float)
    detail = pywt.dwtn(array, "haar")["d" * array.ndim]
    return float(np.median(np.abs(detail)) / 0.6745)


def _centre(mask: sitk.Image) -> tuple[float, ...]:
    """The ROI's centre of mass in physical coordinates (the image's centre without an ROI)."""
    array = sitk.GetArrayViewFromImage(mask)
    where = np.argwhere(array > 0)
    index = where.mean(axis=0)[::-1] if len(where) else (np.array(mask.GetSize()) - 1) / 2.0
    return mask.TransformContinuousIndexToPhysicalPoint([float(i) for i in index])


def _moved(image: sitk.Image, mask: sitk.Image, p: Perturbation) -> tuple[sitk.Image, sitk.Image]:
    """Image and ROI rotated about the slice axis and shifted by voxel fractions, resampled on the image's
    own grid (image: cubic B-spline; each label: linear, kept at >= 0.5)."""
    direction = np.array(image.GetDirection()).reshape(3, 3)
    transform = sitk.Euler3DTransform()
    transform.SetCenter(_centre(mask))
    axis = direction[:, 2]
    rotation = sitk.VersorTransform(tuple(float(a) for a in axis), np.deg2rad(p.angle))
    transform.SetMatrix(rotation.GetMatrix())
    shift = direction @ (np.array(p.shift) * np.array(image.GetSpacing()))
    transform.SetTranslation(tuple(float(s) for s in -shift))  # resampling pulls: the inverse moves the content
    inverse = transform.GetInverse()
    statistics = sitk.MinimumMaximumImageFilter()
    statistics.Execute(image)
    moved = sitk.Resample(image, image, inverse, sitk.sitkBSpline, statistics.GetMinimum(), image.GetPixelID())
    labels = np.zeros(mask.GetSize()[::-1], dtype=np.int32)
    for label in _labels(mask):
        one = sitk.Cast(mask == label, sitk.sitkFloat32)
        part = sitk.GetArrayFromImage(sitk.Resample(one, mask, inverse, sitk.sitkLinear, 0.0)) >= 0.5
        labels[part] = label
    return moved, _like(labels, mask)


def _labels(mask: sitk.Image) -> list[int]:
    return [int(v) for v in np.unique(sitk.GetArrayViewFromImage(mask)) if v > 0]


def _like(array: np.ndarray, reference: sitk.Image) -> sitk.Image:
    image = sitk.GetImageFromArray(array)
    image.CopyInformation(reference)
    return image


def adapted(roi: np.ndarray, spacing_zyx, volume: float | None = None, grow_mm: float | None = None) -> np.ndarray:
    """The ROI grown (+) or shrunk (-) by ``grow_mm``, or to (1 + ``volume``) times its voxel count, along
    the signed distance from its surface (in mm)."""
    from scipy import ndimage

    if not roi.any():
        return roi
    outside = ndimage.distance_transform_edt(~roi, sampling=spacing_zyx)
    inside = ndimage.distance_transform_edt(roi, sampling=spacing_zyx)
    signed = np.where(roi, 0.5 - inside, outside - 0.5)  # < 0 inside, > 0 outside, in mm from the surface
    if grow_mm is not None:
        return signed <= grow_mm
    target = int(round(roi.sum() * (1.0 + float(volume or 0.0))))
    if target <= 0:
        raise ValueError(f"volume adaptation {volume}: the ROI would vanish")
    order = np.argsort(signed, axis=None, kind="stable")
    grown = np.zeros(roi.size, dtype=bool)
    grown[order[:target]] = True
    return grown.reshape(roi.shape)


def randomised(array: np.ndarray, roi: np.ndarray, spacing_zyx, rng: np.random.Generator,
               voxels_per_supervoxel: int = 200) -> np.ndarray:
    """Supervoxel contour randomisation: SLIC supervoxels of the image around the ROI, each kept with the
    probability of its overlap with the ROI (so the ROI's interior stays, its border varies)."""
    from skimage.segmentation import slic

    if not roi.any():
        return roi
    where = np.argwhere(roi)
    low = np.maximum(where.min(axis=0) - 3, 0)
    high = np.minimum(where.max(axis=0) + 4, roi.shape)
    box = tuple(slice(a, b) for a, b in zip(low, high))
    values = array[box].astype(float)
    scale = np.percentile(values, 99) - np.percentile(values, 1) or 1.0
    segments = slic((values - values.min()) / scale, n_segments=max(int(values.size / voxels_per_supervoxel), 2),
                    compactness=0.1, channel_axis=None, spacing=np.asarray(spacing_zyx), start_label=1)
    overlap = np.bincount(segments.ravel(), weights=roi[box].ravel()) / np.maximum(np.bincount(segments.ravel()), 1)
    keep = rng.random(overlap.size) < overlap
    if not keep[1:].any():
        keep[int(np.argmax(overlap))] = True
    out = np.zeros_like(roi)
    out[box] = keep[segments]
    return out


def perturb(image: sitk.Image, mask: sitk.Image, p: Perturbation,
            noise_sd: float | None = None) -> tuple[sitk.Image, sitk.Image]:
    """The perturbed (image, label map); ``noise_sd``: the image's noise level (default: estimated)."""
    rng = np.random.default_rng(p.seed)
    image = sitk.Cast(image, sitk.sitkFloat64)
    if p.angle or any(p.shift):
        image, mask = _moved(image, mask, p)
    array = sitk.GetArrayFromImage(image)
    if p.noise:
        array = array + rng.normal(0.0, noise_level(image) if noise_sd is None else noise_sd, array.shape)
    spacing = tuple(image.GetSpacing())[::-1]
    labels = sitk.GetArrayFromImage(mask).astype(np.int32)
    if p.volume is not None or p.grow_mm is not None or p.randomise:
        out = np.zeros_like(labels)
        for label in _labels(mask):
            roi = labels == label
            if p.volume is not None or p.grow_mm is not None:
                roi = adapted(roi, spacing, p.volume, p.grow_mm)
            if p.randomise:
                roi = randomised(array, roi, spacing, rng)
            out[roi] = label
        labels = out
    return _like(array, image), _like(labels, mask)
