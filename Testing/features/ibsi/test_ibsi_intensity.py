"""Local intensity and intensity-volume histogram features, which PyRadiomics lacks, against the IBSI-1
reference values of the digital phantom (2 + 6) and hand-made cases.

(In the extraction as part of the `IBSI` preset: features/ibsi/families.py, test_ibsi_phantom.py.)
"""

from __future__ import annotations

import numpy as np
from ibsitools import misses, phantom_arrays, reference_rows
from RadiomicsWorkshopLib.features.ibsi.intensity import PEAK_RADIUS_MM, ivh_features, local_intensity_features

BY_CAPTION = {  # the reference table's caption -> ours
    "local intensity peak": "LocalIntensityPeak", "global intensity peak": "GlobalIntensityPeak",
    "volume fraction at 10% intensity": "VolumeAtIntensityFraction10",
    "volume fraction at 90% intensity": "VolumeAtIntensityFraction90",
    "intensity at 10% volume": "IntensityAtVolumeFraction10", "intensity at 90% volume": "IntensityAtVolumeFraction90",
    "volume fraction difference between 10% and 90% intensity": "VolumeFractionDifference10_90",
    "intensity difference between 10% and 90% volume": "IntensityFractionDifference10_90",
}


def test_every_ibsi_reference_value_of_the_families_is_reproduced():
    values, mask, spacing = phantom_arrays()
    ours = {**local_intensity_features(values, mask, spacing),
            **ivh_features(values[mask], level_range=(1, 6))}  # the phantom's grey levels: 1..6
    rows = reference_rows(lambda r: r["family"].isin(["Local intensity features", "Intensity-volume histogram features"]))
    assert len(rows) == 8
    assert not misses(rows, lambda row: ours[BY_CAPTION[row.table_caption]])


def test_hand_made_cases():
    # A bright spot: the local peak is the mean of the 1 cm^3 sphere around it, the global peak may lie
    # elsewhere (here: around a plateau of 5s, higher on average than around the lone 9).
    assert 6.2 < PEAK_RADIUS_MM < 6.21
    image = np.zeros((9, 9, 20))
    image[4, 4, 3] = 9.0
    image[:, :, 12:] = 5.0
    mask = np.ones(image.shape, bool)
    peaks = local_intensity_features(image, mask, (2.0, 2.0, 2.0))
    sphere = np.array([[[dz, dy, dx] for dx in range(-3, 4)] for dy in range(-3, 4) for dz in range(-3, 4)])
    voxels = (np.linalg.norm(sphere.reshape(-1, 3) * 2.0, axis=1) <= PEAK_RADIUS_MM).sum()
    assert np.isclose(peaks["LocalIntensityPeak"], 9.0 / voxels)
    assert np.isclose(peaks["GlobalIntensityPeak"], 5.0)
    # IVH of levels 1, 1, 2, 3 (range 1..3): 50% of the volume at >= 2, 25% at 3.
    ivh = ivh_features(np.array([1, 1, 2, 3]), level_range=(1, 3))
    assert ivh["VolumeAtIntensityFraction10"] == 0.5 and ivh["VolumeAtIntensityFraction90"] == 0.25
    assert ivh["IntensityAtVolumeFraction10"] == 4.0  # no level holds <= 10% of the volume: one above the top
    assert ivh["IntensityAtVolumeFraction90"] == 2.0
