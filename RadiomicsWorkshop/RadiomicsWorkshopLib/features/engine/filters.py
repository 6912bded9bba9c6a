"""PyRadiomics' image types (``imageoperations.get<Type>Image``, PyRadiomics 3.0.1) made by us with its
operations and names, so that their features come from our engine: ``Original``, ``LoG`` (SimpleITK's
LaplacianRecursiveGaussian, normalised across scale, per sigma, skipped where the image is too small),
``Wavelet`` (PyWavelets' stationary transform, PyRadiomics' padding and decomposition names),
``Square``, ``SquareRoot``, ``Logarithm``, ``Exponential`` (scaled by the image's largest magnitude) and
``Gradient`` (SimpleITK's GradientMagnitude) and ``LBP2D`` (scikit-image's local binary pattern slice by
slice, written back into the image's own pixel type as PyRadiomics does). Each yields ``(image, name, settings)`` as PyRadiomics'
generators do: the settings with the image type's own laid over them.
"""

from __future__ import annotations

from typing import Any, Iterator, Mapping

import numpy as np
import SimpleITK as sitk

from ..ibsi2.image_types import IMAGE_TYPES as IBSI2_TYPES, filters as ibsi2_filters

PYRADIOMICS_TYPES = ("Original", "LoG", "Wavelet", "Square", "SquareRoot", "Logarithm", "Exponential", "Gradient",
                     "LBP2D")
#: PyRadiomics' image types and the IBSI-2 filters (``ibsi2.image_types``: ours alone)
IMAGE_TYPES = PYRADIOMICS_TYPES + IBSI2_TYPES

Filtered = Iterator[tuple[sitk.Image, str, Mapping[str, Any]]]


def _from_array(array: np.ndarray, like: sitk.Image) -> sitk.Image:
    image = sitk.GetImageFromArray(array)
    image.CopyInformation(like)
    return image


def log_images(image: sitk.Image, settings: Mapping[str, Any]) -> Filtered:
    size, spacing = np.array(image.GetSize()), np.array(image.GetSpacing())
    if np.min(size) < 4:
        return
    for sigma in settings.get("sigma", []):
        if sigma > 0.0 and np.all(size >= np.ceil(sigma / spacing) + 1):
            log = sitk.LaplacianRecursiveGaussianImageFilter()
            log.SetNormalizeAcrossScale(True)
            log.SetSigma(sigma)
            yield log.Execute(image), "log-sigma-%s-mm-3D" % str(sigma).replace(".", "-"), settings


def wavelet_images(image: sitk.Image, settings: Mapping[str, Any]) -> Filtered:
    import pywt

    dimension = image.GetDimension()
    axes = list(range(dimension - 1, -1, -1))
    if settings.get("force2D", False):
        axes.remove(settings.get("force2Ddimension", 0))
    wavelet = settings.get("wavelet", "coif1")
    wavelet = wavelet if isinstance(wavelet, pywt.Wavelet) else pywt.Wavelet(wavelet)
    level, start = settings.get("level", 1), settings.get("start_level", 0)
    data = sitk.GetArrayFromImage(image)
    shape = data.shape
    data = np.pad(data, tuple((0, 1 if n % 2 else 0) for n in shape), "wrap")
    unpad = tuple(slice(None, -1 if n % 2 else None) for n in shape)
    approximation = "a" * len(axes)
    for _ in range(start):
        data = pywt.swtn(data, wavelet, level=1, start_level=0, axes=tuple(axes))[0][approximation].copy()
    levels = []
    for _ in range(start, start + level):
        decomposition = pywt.swtn(data, wavelet, level=1, start_level=0, axes=tuple(axes))[0]
        data = decomposition[approximation].copy()
        levels.append({name.replace("a", "L").replace("d", "H"): _from_array(band[unpad].copy(), image)
                       for name, band in decomposition.items() if name != approximation})
    for index, bands in enumerate(levels, start=1):
        for name, band in bands.items():
            yield band, f"wavelet-{name}" if index == 1 else f"wavelet{index}-{name}", settings
    last = "L" * len(axes)
    yield (_from_array(data[unpad], image), f"wavelet-{last}" if len(levels) == 1 else f"wavelet{len(levels)}-{last}",
           settings)


SCALED = ("Square", "SquareRoot", "Logarithm", "Exponential")


def largest_magnitude(image: sitk.Image) -> float:
    """The image's largest |intensity|, by which the scaled image types scale each voxel."""
    statistics = sitk.MinimumMaximumImageFilter()
    statistics.Execute(image)
    return float(max(abs(statistics.GetMinimum()), abs(statistics.GetMaximum())))


def scaled(x: np.ndarray, name: str, largest: float) -> np.ndarray:
    """Square, SquareRoot, Logarithm and Exponential of intensities ``x`` (voxel by voxel, given the whole
    image's largest magnitude; the logarithm's own largest is the logarithm of that one)."""
    x = np.array(x, dtype="float64")
    if name == "square":
        x = (1 / np.sqrt(largest) * x) ** 2
    elif name == "squareroot":
        x[x > 0] = np.sqrt(x[x > 0] * largest)
        x[x < 0] = -np.sqrt(-x[x < 0] * largest)
    elif name == "logarithm":
        x[x > 0] = np.log(x[x > 0] + 1)
        x[x < 0] = -np.log(-(x[x < 0] - 1))
        x = x * (largest / np.log(largest + 1))  # the log image's largest magnitude: log(largest + 1)
    else:
        x = np.exp(np.log(largest) / largest * x)
    return x


def lbp2d_images(image: sitk.Image, settings: Mapping[str, Any]) -> Filtered:
    from skimage.feature import local_binary_pattern

    radius, samples = settings.get("lbp2DRadius", 1), settings.get("lbp2DSamples", 8)
    method = settings.get("lbp2DMethod", "uniform")
    array = sitk.GetArrayFromImage(image)
    if image.GetDimension() == 3:
        axis = settings.get("force2Ddimension", 0)
        array = array.swapaxes(0, axis)
        for index in range(array.shape[0]):  # into the image's own type, as PyRadiomics assigns it
            array[index, ...] = local_binary_pattern(array[index, ...], P=samples, R=radius, method=method)
        array = array.swapaxes(0, axis)
    else:
        array = local_binary_pattern(array, P=samples, R=radius, method=method)
    yield _from_array(array, image), "lbp-2D", settings


def ibsi2_images(image_type: str, image: sitk.Image, settings: Mapping[str, Any],
                 custom: Mapping[str, Any]) -> Filtered:
    """The IBSI-2 filters of an image type (``custom``: its own settings), one image per filter."""
    array = sitk.GetArrayFromImage(image)
    spacing = tuple(image.GetSpacing())[::-1]
    for each in ibsi2_filters(image_type, custom):
        yield _from_array(each.apply(array, spacing), image), each.name, settings


def images(image_type: str, image: sitk.Image, settings: Mapping[str, Any],
           custom: Mapping[str, Any] | None = None) -> Filtered:
    """PyRadiomics' generator of this image type, on ``image`` (normalised and resampled as prepared);
    ``settings`` hold the image type's own (``custom``) laid over the extraction's, as PyRadiomics passes
    them; the IBSI-2 filters read ``custom`` alone."""
    if image_type == "Original":
        yield image, "original", settings
    elif image_type == "LoG":
        yield from log_images(image, settings)
    elif image_type == "Wavelet":
        yield from wavelet_images(image, settings)
    elif image_type == "Gradient":
        gradient = sitk.GradientMagnitudeImageFilter()
        gradient.SetUseImageSpacing(settings.get("gradientUseSpacing", True))
        yield gradient.Execute(image), "gradient", settings
    elif image_type == "LBP2D":
        yield from lbp2d_images(image, settings)
    elif image_type in IBSI2_TYPES:
        yield from ibsi2_images(image_type, image, settings, custom or {})
    elif image_type in SCALED:
        x = sitk.GetArrayFromImage(image)
        yield _from_array(scaled(x, image_type.lower(), largest_magnitude(image)), image), image_type.lower(), settings
    else:
        raise ValueError(f"image type {image_type} is not one of ours ({', '.join(IMAGE_TYPES)})")
