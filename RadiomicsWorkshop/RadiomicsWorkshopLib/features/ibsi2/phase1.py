"""IBSI-2 phase 1: the 33 reference response maps of the digital phantoms (reference manual, chapter
"Digital phantom tests"; maps from theibsi/ibsi_2_reference_data). A test passes when every voxel of our
response map lies within 1% of the reference map's intensity range of the reference's value.

Each test is the phantom and the filter as an image type's settings (``image_types``), so the check runs
the code the extraction runs; the Riesz tests (9, 10), which no image type offers, call the filter.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

import numpy as np

from . import wavelets
from .image_types import filters

TOLERANCE = 0.01  # of the reference map's range


@dataclass(frozen=True)
class Test:
    id: str  # as the reference map's file name: 1_a_1 ... 10_b_1
    phantom: str
    image_type: str  # or "Riesz" (called directly)
    settings: Mapping[str, Any]

    def response(self, array: np.ndarray, spacing) -> np.ndarray:
        if self.image_type == "Riesz":
            return _RIESZ[self.id](array, spacing)
        (only,) = filters(self.image_type, self.settings)
        return only.apply(array, spacing)


def _t(id: str, phantom: str, image_type: str, **settings: Any) -> Test:
    return Test(id, phantom, image_type, settings)


LAWS_ENERGY = {"rotation_invariant": True, "pooling": "max", "energy_distance": 7}
TESTS = (
    _t("1_a_1", "checkerboard", "IBSIMean", support=15, boundary="zero"),
    _t("1_a_2", "checkerboard", "IBSIMean", support=15, boundary="nearest"),
    _t("1_a_3", "checkerboard", "IBSIMean", support=15, boundary="periodic"),
    _t("1_a_4", "checkerboard", "IBSIMean", support=15, boundary="mirror"),
    _t("1_b_1", "impulse", "IBSIMean", support=15, boundary="zero", dimensions=2),
    _t("2_a", "impulse", "IBSILoG", sigma=3.0, boundary="zero"),
    _t("2_b", "checkerboard", "IBSILoG", sigma=5.0, boundary="mirror"),
    _t("2_c", "checkerboard", "IBSILoG", sigma=5.0, boundary="mirror", dimensions=2),
    _t("3_a_1", "impulse", "IBSILaws", kernel="E5L5S5", boundary="zero"),
    _t("3_a_2", "impulse", "IBSILaws", kernel="E5L5S5", boundary="zero", rotation_invariant=True, pooling="max"),
    _t("3_a_3", "impulse", "IBSILaws", kernel="E5L5S5", boundary="zero", **LAWS_ENERGY),
    _t("3_b_1", "checkerboard", "IBSILaws", kernel="E3W5R5", boundary="mirror"),
    _t("3_b_2", "checkerboard", "IBSILaws", kernel="E3W5R5", boundary="mirror", rotation_invariant=True,
       pooling="max"),
    _t("3_b_3", "checkerboard", "IBSILaws", kernel="E3W5R5", boundary="mirror", **LAWS_ENERGY),
    _t("3_c_1", "checkerboard", "IBSILaws", kernel="L5S5", boundary="mirror", dimensions=2),
    _t("3_c_2", "checkerboard", "IBSILaws", kernel="L5S5", boundary="mirror", dimensions=2,
       rotation_invariant=True, pooling="max"),
    _t("3_c_3", "checkerboard", "IBSILaws", kernel="L5S5", boundary="mirror", dimensions=2, **LAWS_ENERGY),
    _t("4_a_1", "impulse", "IBSIGabor", sigma=10.0, wavelength=4.0, gamma=0.5, theta=60.0, boundary="zero",
       dimensions=2),
    _t("4_a_2", "impulse", "IBSIGabor", sigma=10.0, wavelength=4.0, gamma=0.5, theta_step=45.0, boundary="zero"),
    _t("4_b_1", "sphere", "IBSIGabor", sigma=20.0, wavelength=8.0, gamma=2.5, theta=225.0, boundary="mirror",
       dimensions=2),
    _t("4_b_2", "sphere", "IBSIGabor", sigma=20.0, wavelength=8.0, gamma=2.5, theta_step=22.5, boundary="mirror"),
    _t("5_a_1", "impulse", "IBSIWavelet", wavelet="db2", band="LHL", boundary="zero"),
    _t("5_a_2", "impulse", "IBSIWavelet", wavelet="db2", band="LHL", boundary="zero", rotation_invariant=True),
    _t("6_a_1", "sphere", "IBSIWavelet", wavelet="coif1", band="HHL", boundary="periodic"),
    _t("6_a_2", "sphere", "IBSIWavelet", wavelet="coif1", band="HHL", boundary="periodic", rotation_invariant=True),
    _t("7_a_1", "checkerboard", "IBSIWavelet", wavelet="haar", band="LLL", level=2, boundary="mirror",
       rotation_invariant=True),
    _t("7_a_2", "checkerboard", "IBSIWavelet", wavelet="haar", band="HHH", level=2, boundary="mirror",
       rotation_invariant=True),
    _t("8_a_1", "checkerboard", "IBSISimoncelli", level=1, boundary="periodic"),
    _t("8_a_2", "checkerboard", "IBSISimoncelli", level=2, boundary="periodic"),
    _t("8_a_3", "checkerboard", "IBSISimoncelli", level=3, boundary="periodic"),
    _t("9_a", "impulse", "Riesz", base="LoG, sigma 3 mm", order="(1, 0, 0)", boundary="zero"),
    _t("9_b_1", "sphere", "Riesz", base="LoG, sigma 3 mm", order="(0, 2, 0)", boundary="zero"),
    _t("10_b_1", "pattern_1", "Riesz", base="Simoncelli, level 1", order="(0, 2, 0)", boundary="periodic"),
)

_RIESZ: dict[str, Callable[[np.ndarray, Any], np.ndarray]] = {
    "9_a": lambda a, sp: wavelets.riesz_log(a, sp, 3.0, (1, 0, 0), "zero"),
    "9_b_1": lambda a, sp: wavelets.riesz_log(a, sp, 3.0, (0, 2, 0), "zero"),
    "10_b_1": lambda a, sp: wavelets.simoncelli(a, 1, "periodic", riesz_order=(0, 2, 0)),
}


def _read(path: Path) -> tuple[np.ndarray, tuple[float, ...]]:
    import SimpleITK as sitk

    image = sitk.ReadImage(str(path))
    return sitk.GetArrayFromImage(image).astype(float), tuple(image.GetSpacing())[::-1]


def phantom_path(data_dir: Path, phantom: str) -> Path:
    found = sorted((data_dir / "digital_phantom" / "nifti" / phantom / "image").glob("*.nii*"))
    if not found:
        raise FileNotFoundError(f"IBSI-2 phantom {phantom!r} not found under {data_dir / 'digital_phantom'}")
    return found[0]


def reference_path(data_dir: Path, test_id: str) -> Path:
    return data_dir / "reference" / "response_maps" / f"{test_id}-ValidCRM.nii.gz"


def deviation(ours: np.ndarray, reference: np.ndarray) -> float:
    """The largest |ours - reference| as a fraction of the reference's range."""
    return float(np.max(np.abs(ours - reference)) / (reference.max() - reference.min()))


def run_phase1(data_dir: str | Path, ids: Iterable[str] | None = None, progress=None) -> list[dict[str, Any]]:
    """One row per test: id, phantom, filter, settings, deviation (fraction of the range), passed."""
    data_dir = Path(data_dir)
    chosen = [t for t in TESTS if ids is None or t.id in set(ids)]
    if progress is not None:
        progress.start(len(chosen), f"IBSI-2 phase 1: {len(chosen)} response map(s)")
    rows = []
    for test in chosen:
        array, spacing = _read(phantom_path(data_dir, test.phantom))
        reference, _ = _read(reference_path(data_dir, test.id))
        found = deviation(test.response(array, spacing), reference)
        rows.append({"test": test.id, "phantom": test.phantom, "filter": test.image_type,
                     "settings": "; ".join(f"{k}: {v}" for k, v in test.settings.items()),
                     "deviation": found, "passed": found <= TOLERANCE})
        if progress is not None:
            progress.advance(f"IBSI-2 phase 1, test {test.id}")
    return rows
