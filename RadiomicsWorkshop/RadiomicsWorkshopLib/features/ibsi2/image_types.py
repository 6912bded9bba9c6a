"""The IBSI-2 filters as image types of a parameter file, beside PyRadiomics' own::

    imageType:
      IBSILoG: {sigma: [1.5], boundary: mirror, dimensions: 3}
      IBSILaws: {kernel: [L5E5E5], rotation_invariant: true, pooling: max, energy_distance: 7}

Every image type takes ``boundary`` (zero, nearest, periodic, mirror; default mirror) and ``dimensions``
(3, default, or 2: each axial slice on its own). A list-valued setting (``sigma``, ``support``,
``kernel``, ``band``, ``level``) gives one image each, as PyRadiomics' LoG does with its sigmas. Each
image's name says which filter, parameters and dimensionality made it (``ibsi-log-sigma-1-5-mm-3D-mirror``),
so a column reads ``ibsi-log-sigma-1-5-mm-3D-mirror_firstorder_Mean``.

:func:`margin_voxels` is each filter's reach from a voxel (the ROI crop's margin); Simoncelli acts in the
Fourier domain, with global support, so it sees the whole image.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterator, Mapping, Sequence

import numpy as np

from ...io.errors import SettingsError
from . import spatial, wavelets

#: image type -> (settings it takes besides boundary and dimensions, the list-valued one)
SETTINGS = {
    "IBSIMean": ({"support"}, "support"),
    "IBSILoG": ({"sigma", "truncate"}, "sigma"),
    "IBSILaws": ({"kernel", "rotation_invariant", "pooling", "energy_distance"}, "kernel"),
    "IBSIGabor": ({"sigma", "wavelength", "gamma", "theta", "theta_step", "truncate"}, "sigma"),
    "IBSIWavelet": ({"wavelet", "band", "level", "rotation_invariant", "pooling"}, "band"),
    "IBSISimoncelli": ({"level"}, "level"),
}
IMAGE_TYPES = tuple(SETTINGS)
COMMON = {"boundary", "dimensions"}
REQUIRED = {"IBSIMean": ("support",), "IBSILoG": ("sigma",), "IBSILaws": ("kernel",),
            "IBSIGabor": ("sigma", "wavelength", "gamma"), "IBSIWavelet": ("wavelet", "band"),
            "IBSISimoncelli": ()}


@dataclass(frozen=True)
class Filter:
    """One IBSI-2 filter with its settings (one value of the list-valued one)."""

    image_type: str
    settings: Mapping[str, Any]

    @property
    def boundary(self) -> str:
        return str(self.settings.get("boundary", "mirror"))

    @property
    def planar(self) -> bool:
        return int(self.settings.get("dimensions", 3)) == 2

    @property
    def name(self) -> str:
        return _NAMERS[self.image_type](self.settings) + f"-{'2D' if self.planar else '3D'}-{self.boundary}"

    def apply(self, array: np.ndarray, spacing: Sequence[float]) -> np.ndarray:
        """The response map of ``array`` ((z, y, x), ``spacing`` in mm in the same order)."""
        return _APPLIERS[self.image_type](self, np.asarray(array, dtype=float), tuple(float(s) for s in spacing))


def filters(image_type: str, custom: Mapping[str, Any], source: str | None = None) -> list[Filter]:
    """The filters an image type's settings ask for, checked (a ``SettingsError`` names what to change)."""
    if image_type not in SETTINGS:
        raise SettingsError(f"image type {image_type}: not an IBSI-2 filter", file=source,
                            hint=f"use one of {', '.join(IMAGE_TYPES)}")
    known, listed = SETTINGS[image_type]
    custom = dict(custom or {})
    unknown = sorted(set(custom) - known - COMMON)
    missing = [k for k in REQUIRED[image_type] if k not in custom]
    if unknown or missing:
        raise SettingsError(f"image type {image_type}: " + "; ".join(
            ([f"unknown setting(s) {', '.join(unknown)}"] if unknown else [])
            + ([f"needs {', '.join(missing)}"] if missing else [])), file=source,
            hint=f"its settings: {', '.join(sorted(known | COMMON))}")
    if custom.get("boundary", "mirror") not in spatial.MODES or int(custom.get("dimensions", 3)) not in (2, 3):
        raise SettingsError(f"image type {image_type}: boundary {custom.get('boundary')!r} or dimensions "
                            f"{custom.get('dimensions')!r}", file=source,
                            hint=f"boundary: one of {', '.join(spatial.MODES)}; dimensions: 2 or 3")
    values = custom.get(listed, [1] if image_type == "IBSISimoncelli" else None)
    values = values if isinstance(values, (list, tuple)) else [values]
    return [Filter(image_type, {**custom, listed: value}) for value in values]


def _number(value: float) -> str:
    return str(value).replace(".", "-")


def _invariance(settings: Mapping[str, Any], default: str) -> str:
    return f"-invariant-{settings.get('pooling', default)}" if settings.get("rotation_invariant") else ""


_NAMERS: dict[str, Callable[[Mapping[str, Any]], str]] = {
    "IBSIMean": lambda s: f"ibsi-mean-{s['support']}",
    "IBSILoG": lambda s: f"ibsi-log-sigma-{_number(s['sigma'])}-mm",
    "IBSILaws": lambda s: f"ibsi-laws-{s['kernel']}" + (f"-energy-{s['energy_distance']}" if s.get(
        "energy_distance") is not None else "") + _invariance(s, "max"),
    "IBSIGabor": lambda s: (f"ibsi-gabor-sigma-{_number(s['sigma'])}-lambda-{_number(s['wavelength'])}-gamma-"
                            f"{_number(s['gamma'])}-theta-{_number(s.get('theta', 0))}"
                            + (f"-step-{_number(s['theta_step'])}" if s.get("theta_step") else "")),
    "IBSIWavelet": lambda s: f"ibsi-wavelet-{s['wavelet']}-{s['band']}-level-{s.get('level', 1)}"
                             + _invariance(s, "mean"),
    "IBSISimoncelli": lambda s: f"ibsi-simoncelli-level-{s['level']}",
}


def _laws(f: Filter, array: np.ndarray, spacing) -> np.ndarray:
    s = f.settings
    return spatial.laws_filter(array, str(s["kernel"]), f.boundary, bool(s.get("rotation_invariant", False)),
                               str(s.get("pooling", "max")), s.get("energy_distance"))


def _gabor(f: Filter, array: np.ndarray, spacing) -> np.ndarray:
    s = f.settings
    return spatial.gabor_filter(array, spacing, float(s["sigma"]), float(s["wavelength"]), float(s["gamma"]),
                                float(s.get("theta", 0.0)), f.boundary, s.get("theta_step"),
                                orthogonal_planes=not f.planar, truncate=float(s.get("truncate", 4.0)))


def _wavelet(f: Filter, array: np.ndarray, spacing) -> np.ndarray:
    s = f.settings
    band = str(s["band"])
    if (len(band) == 2) != f.planar:
        raise ValueError(f"wavelet band {band}: {'two' if f.planar else 'three'} letters for dimensions "
                         f"{2 if f.planar else 3}")
    return wavelets.separable_wavelet(array, str(s["wavelet"]), band, f.boundary, int(s.get("level", 1)),
                                      bool(s.get("rotation_invariant", False)), str(s.get("pooling", "mean")))


_APPLIERS: dict[str, Callable[[Filter, np.ndarray, tuple], np.ndarray]] = {
    "IBSIMean": lambda f, a, sp: spatial.mean_filter(a, int(f.settings["support"]), f.boundary, f.planar),
    "IBSILoG": lambda f, a, sp: spatial.laplacian_of_gaussian(a, sp, float(f.settings["sigma"]), f.boundary,
                                                              float(f.settings.get("truncate", 4.0)), f.planar),
    "IBSILaws": _laws,
    "IBSIGabor": _gabor,
    "IBSIWavelet": _wavelet,
    "IBSISimoncelli": lambda f, a, sp: wavelets.simoncelli(a, int(f.settings["level"]), f.boundary,
                                                           planar=f.planar),
}


def margin_voxels(f: Filter, spacing_zyx: Sequence[float]) -> tuple[int, ...] | None:
    """How far (voxels, per axis z, y, x) a voxel's response reaches; None: the whole image (Fourier)."""
    s, dimension = f.settings, len(spacing_zyx)
    planar_axes = [0] * (dimension - 2) + [1, 1]
    if f.image_type == "IBSISimoncelli":
        return None
    if f.image_type == "IBSIMean":
        reach = [int(s["support"]) // 2] * dimension
    elif f.image_type == "IBSILoG":
        reach = [int(np.floor(float(s.get("truncate", 4.0)) * float(s["sigma"]) / step + 0.5))
                 for step in spacing_zyx]
    elif f.image_type == "IBSILaws":
        half = max(len(k) for k in spatial.laws_kernels(str(s["kernel"]))) // 2
        reach = [half + int(s.get("energy_distance") or 0)] * dimension
    elif f.image_type == "IBSIGabor":
        width = float(s.get("truncate", 4.0)) * float(s["sigma"]) / min(float(s["gamma"]), 1.0)
        reach = [int(np.floor(width / min(spacing_zyx) + 0.5))] * dimension
        return tuple(r * p for r, p in zip(reach, planar_axes)) if f.planar else tuple(reach)
    else:  # IBSIWavelet: every level's dilated filter
        length = max(len(k) for k in wavelets.wavelet_filters(str(s["wavelet"])).values())
        reach = [sum((length // 2) * 2 ** (j - 1) for j in range(1, int(s.get("level", 1)) + 1))] * dimension
    return tuple(r * p for r, p in zip(reach, planar_axes)) if f.planar else tuple(reach)


def responses(image_type: str, custom: Mapping[str, Any], array: np.ndarray,
              spacing: Sequence[float]) -> Iterator[tuple[np.ndarray, str]]:
    """(response map, image name) of each filter an image type asks for."""
    for f in filters(image_type, custom):
        yield f.apply(array, spacing), f.name
