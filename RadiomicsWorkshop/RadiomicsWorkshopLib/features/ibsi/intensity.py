"""IBSI-1 intensity families PyRadiomics lacks: local intensity (section 3.2) and the intensity-volume
histogram (section 3.5), as the IBSI reference manual defines them.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

#: The radius (mm) of a sphere of 1 cm^3: the local intensity peak's neighbourhood.
PEAK_RADIUS_MM = (3000.0 / (4.0 * np.pi)) ** (1.0 / 3.0)


def fft_convolver(kernel: np.ndarray, shape: tuple[int, ...], dtype=np.float64):
    """``convolve(field)``: the convolution of a ``shape`` array with an odd-sized ``kernel`` (centred on its
    middle voxel, zero outside the array), at the array's voxels; by FFT, the kernel's spectrum computed once.

    Circular convolution of period P per axis, the kernel wrapped round its centre: only the array's own
    voxels are wanted, so P >= n + h (h: the kernel's half-width) keeps every wrapped-round term out of
    them and P >= 2h + 1 keeps the kernel's offsets apart -- smaller than the n + 2h of a full convolution.
    """
    from scipy import fft

    half = [k // 2 for k in kernel.shape]
    period = [fft.next_fast_len(max(k, n + h), real=True) for n, k, h in zip(shape, kernel.shape, half)]
    wrapped = np.zeros(period, dtype=dtype)
    wrapped[tuple(slice(0, k) for k in kernel.shape)] = kernel
    spectrum = fft.rfftn(np.roll(wrapped, [-h for h in half], axis=tuple(range(kernel.ndim))))
    inside = tuple(slice(0, n) for n in shape)

    def convolve(field: np.ndarray) -> np.ndarray:
        return fft.irfftn(fft.rfftn(field.astype(dtype, copy=False), period) * spectrum, period)[inside]

    return convolve


def _sphere_mean(image: np.ndarray, spacing_zyx: tuple[float, float, float], radius_mm: float,
                 where: np.ndarray | None = None) -> np.ndarray:
    """The mean intensity, at every voxel, of the voxels of the image whose centres lie within
    ``radius_mm`` of it (voxels outside the image do not count). ``where``: the voxels that matter; when
    their spheres all lie inside the image, every sphere holds the whole kernel and is not counted."""
    half = [int(np.floor(radius_mm / s)) for s in spacing_zyx]
    grid = np.meshgrid(*[np.arange(-h, h + 1) * s for h, s in zip(half, spacing_zyx)], indexing="ij")
    kernel = (sum(g ** 2 for g in grid) <= radius_mm ** 2 + 1e-9).astype(float)
    # single precision: a mean of positive weights loses nothing to cancellation (relative error ~1e-7)
    convolve = fft_convolver(kernel, image.shape, np.float32)
    inside = where is not None and all(
        idx.min() >= h and idx.max() < n - h for idx, h, n in zip(np.nonzero(where), half, image.shape))
    count = kernel.sum() if inside else np.maximum(np.rint(convolve(np.ones(image.shape))), 1.0)
    return convolve(image).astype(np.float64) / count


def local_intensity_features(image: np.ndarray, mask: np.ndarray,
                             spacing_zyx: tuple[float, float, float]) -> dict[str, float]:
    """Local intensity peak (the 1 cm^3 mean around the ROI's brightest voxel; the highest such mean when
    several voxels share the maximum) and global intensity peak (the highest 1 cm^3 mean around any ROI
    voxel). ``image`` is the unfiltered, not discretised intensity; arrays in z, y, x order."""
    mask = mask.astype(bool)
    if not mask.any():
        return {"LocalIntensityPeak": float("nan"), "GlobalIntensityPeak": float("nan")}
    means = _sphere_mean(image, spacing_zyx, PEAK_RADIUS_MM, where=mask)
    brightest = mask & (image == image[mask].max())
    return {"LocalIntensityPeak": float(means[brightest].max()), "GlobalIntensityPeak": float(means[mask].max())}


IVH_DISCRETISATIONS = ("texture", "none", "bin_width", "bin_count")


def ivh_option(value: Any, *, source: str | None = None) -> dict[str, Any] | None:
    """``workshop: ivh`` checked: None / "texture" (the texture's grey levels), "none" (calibrated, discrete
    intensities such as CT's, taken as they are), ``{bin_width: w}`` (calibrated, continuous: fixed bin size from
    the re-segmentation range's lower bound, as bin centres) or ``{bin_count: n}`` (arbitrary units: fixed bin
    number). The IBSI reference manual, "Intensity-volume histogram features"."""
    from ...io.errors import SettingsError

    if value in (None, "texture"):
        return None
    if value == "none":
        return {"method": "none"}
    if isinstance(value, dict) and len(value) == 1:
        (key, number), = value.items()
        if key in ("bin_width", "bin_count") and isinstance(number, (int, float)) and number > 0 \
                and (key == "bin_width" or float(number).is_integer()):
            return {"method": key, key: number}
    raise SettingsError(f"'workshop: ivh: {value}' is not an IVH discretisation", file=source,
                        hint="use texture (the default), none (CT), {bin_width: 2.5} or {bin_count: 1000}")


def ivh_discretised(values: np.ndarray, option: Mapping[str, Any],
                    resegment_range: Sequence[float] | None = None) -> tuple[np.ndarray, tuple[float, float], float]:
    """The ROI's intensities ``values`` as the IVH takes them, its total range G and its interval w_d."""
    values = np.asarray(values, dtype=float).ravel()
    low = float(resegment_range[0]) if resegment_range else float(values.min())
    high = float(resegment_range[1]) if resegment_range and len(resegment_range) > 1 else float(values.max())
    if option["method"] == "none":
        return values, (low, high), 1.0
    if option["method"] == "bin_width":
        width = float(option["bin_width"])
        bins = np.floor((values - low) / width) + 1
        return low + (bins - 0.5) * width, (low + 0.5 * width, high - 0.5 * width), width
    count = int(option["bin_count"])
    low, high = float(values.min()), float(values.max())
    bins = np.floor(count * (values - low) / (high - low)) + 1 if high > low else np.ones_like(values)
    return np.minimum(bins, count), (1.0, float(count)), 1.0


def ivh_features(levels: np.ndarray, level_range: tuple[float, float] | None = None,
                 fractions: tuple[float, float] = (0.10, 0.90), interval: float = 1.0) -> dict[str, float]:
    """Intensity-volume histogram features of the ROI's discretised intensities ``levels`` (any shape,
    ROI voxels only). ``level_range``: the lowest and highest grey level of the discretisation (default:
    those present), every level in between, ``interval`` apart, counts, present or not.

    Volume fraction of level i: the fraction of voxels at or above it; intensity fraction of level i:
    (i - lowest) / (highest - lowest). V_x: the largest volume fraction of a level with intensity
    fraction >= x; I_x: the lowest level whose volume fraction is <= x.
    """
    levels = np.asarray(levels, dtype=float).ravel()
    if levels.size == 0:
        return {}
    low, high = level_range or (float(levels.min()), float(levels.max()))
    grid = low + interval * np.arange(int(round((high - low) / interval)) + 1)
    volume = 1.0 - np.searchsorted(np.sort(levels), grid, side="left") / levels.size  # fraction >= level
    intensity = (grid - low) / (high - low) if high > low else np.zeros_like(grid)
    low_fraction, high_fraction = fractions
    out: dict[str, float] = {}
    for x in fractions:
        tag = f"{round(100 * x)}"
        out[f"VolumeAtIntensityFraction{tag}"] = float(volume[intensity >= x].max()) if (intensity >= x).any() else 0.0
        at_most = grid[volume <= x]
        out[f"IntensityAtVolumeFraction{tag}"] = float(at_most.min()) if at_most.size else float(high + interval)
    lo, hi = f"{round(100 * low_fraction)}", f"{round(100 * high_fraction)}"
    out[f"VolumeFractionDifference{lo}_{hi}"] = out[f"VolumeAtIntensityFraction{lo}"] - \
        out[f"VolumeAtIntensityFraction{hi}"]
    out[f"IntensityFractionDifference{lo}_{hi}"] = out[f"IntensityAtVolumeFraction{lo}"] - \
        out[f"IntensityAtVolumeFraction{hi}"]
    return out
