"""IBSI-2 phase 1: every reference response map of the digital phantoms (``../shared/data/ibsi2``)
reproduced within 1% of its range, by the image types the extraction runs (``features/ibsi2``); and the
conventions the maps fix, each shown by a variant that misses."""

from __future__ import annotations

import numpy as np
import pytest
from RadiomicsWorkshopLib.features.ibsi2 import phase1, spatial, wavelets
from RadiomicsWorkshopLib.features.ibsi2.image_types import Filter, filters
from RadiomicsWorkshopLib.io.locations import REPOSITORY_DIR

IBSI2 = REPOSITORY_DIR.parent / "shared" / "data" / "ibsi2"
README = (REPOSITORY_DIR / "README.md").read_text(encoding="utf-8")
pytestmark = pytest.mark.skipif(not (IBSI2 / "reference").is_dir(), reason="no IBSI-2 data beside the repository")


def _phantom(name: str):
    return phase1._read(phase1.phantom_path(IBSI2, name))


def _reference(test_id: str):
    return phase1._read(phase1.reference_path(IBSI2, test_id))[0]


def test_there_are_33_tests_one_per_reference_map():
    shipped = sorted(p.name.replace("-ValidCRM.nii.gz", "") for p in (IBSI2 / "reference" / "response_maps").iterdir())
    assert sorted(t.id for t in phase1.TESTS) == shipped and len(shipped) == 33


@pytest.mark.parametrize("test", phase1.TESTS, ids=lambda t: t.id)
def test_response_map_within_one_percent_of_the_reference_range(test):
    array, spacing = _phantom(test.phantom)
    found = phase1.deviation(test.response(array, spacing), _reference(test.id))
    assert found <= phase1.TOLERANCE, f"{test.id}: {100 * found:.3f}% of the range"
    settings = "; ".join(f"{k}: {v}" for k, v in test.settings.items())
    row = f"| {test.id} | {test.phantom} | {test.image_type} | {settings} | {100 * found:.2f} |"
    assert row in README, f"README's IBSI-2 phase-1 table: update the row of {test.id} to\n{row}"


def test_conventions_the_maps_fix_each_variant_misses():
    """What a plausible other reading gives, each > 1% off: LoG per mm^2 instead of per voxel^2 (2.a),
    Laws by correlation instead of convolution (3.a.1), a Gabor kernel cut at 4 sigma instead of 4 sigma /
    gamma (4.a.1), a wavelet padded with a zero in front instead of behind (5.a.1, the centre shifts), Simoncelli without the
    padding of the periodic image (10.b.1 is periodic; 8.a.1 on mirror instead)."""
    impulse, spacing = _phantom("impulse")
    checker, _ = _phantom("checkerboard")
    per_mm = spatial.laplacian_of_gaussian(impulse, spacing, 3.0, "zero") / spacing[0] ** 2
    assert phase1.deviation(per_mm, _reference("2_a")) > 0.01
    kernels = spatial.laws_kernels("E5L5S5")[::-1]
    correlated = spatial.separable(impulse, [k[::-1] for k in kernels], "zero")
    assert phase1.deviation(correlated, _reference("3_a_1")) > 0.01
    short = spatial.gabor_filter(impulse, spacing, 10.0, 4.0, 0.5, 60.0, "zero", truncate=2.0)  # 4 sigma
    assert phase1.deviation(short, _reference("4_a_1")) > 0.01
    import pywt

    odd = wavelets.wavelet_filters("db2")
    assert len(odd["L"]) == 5 and odd["L"][-1] == 0.0 and np.allclose(odd["L"][:4], pywt.Wavelet("db2").dec_lo)
    leading = {k: np.append(0.0, v) for k, v in (("L", pywt.Wavelet("db2").dec_lo), ("H", pywt.Wavelet("db2").dec_hi))}
    uncentred = spatial.separable(impulse, [leading["L"], leading["H"], leading["L"]], "zero")  # the zero in front
    assert phase1.deviation(uncentred, _reference("5_a_1")) > 0.01
    mirrored = wavelets.simoncelli(checker, 1, "mirror")
    assert phase1.deviation(mirrored, _reference("8_a_1")) > 0.01


def test_rotation_invariance_pools_over_the_24_right_angle_rotations():
    from RadiomicsWorkshopLib.features.ibsi2.rotation import orientations

    assert len(orientations(3)) == 24 and len(orientations(2)) == 4
    assert len(set(orientations(3))) == 24
    noise, _ = _phantom("noise")
    invariant = filters("IBSILaws", {"kernel": "E5L5S5", "rotation_invariant": True, "boundary": "periodic"})[0]
    rotated = np.rot90(noise, 1, axes=(0, 2)).copy()  # a right-angle rotation about y
    np.testing.assert_allclose(invariant.apply(rotated, (2.0,) * 3), np.rot90(invariant.apply(noise, (2.0,) * 3),
                                                                               1, axes=(0, 2)), atol=1e-9)
    plain = Filter("IBSILaws", {"kernel": "E5L5S5", "boundary": "periodic"})
    assert not np.allclose(plain.apply(rotated, (2.0,) * 3), np.rot90(plain.apply(noise, (2.0,) * 3), 1, axes=(0, 2)))
