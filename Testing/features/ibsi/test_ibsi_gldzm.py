"""Grey level distance zone matrix (GLDZM) features, which PyRadiomics lacks, against the IBSI-1 reference
values of the digital phantom (all 48: 16 features x 2D, 2.5D and 3D aggregation) and a hand-made case.

(In the extraction as part of the `IBSI` preset: features/ibsi/families.py, test_ibsi_phantom.py.)
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from ibsitools import texture_family_misses
from RadiomicsWorkshopLib.features.ibsi.gldzm import distance_to_edge, gldzm, gldzm_features

IBSI_NAMES = {  # IBSI feature name -> ours (PyRadiomics' naming style)
    "Small distance emphasis": "SmallDistanceEmphasis", "Large distance emphasis": "LargeDistanceEmphasis",
    "Low grey level zone emphasis": "LowGrayLevelZoneEmphasis",
    "High grey level zone emphasis": "HighGrayLevelZoneEmphasis",
    "Small distance low grey level emphasis": "SmallDistanceLowGrayLevelEmphasis",
    "Small distance high grey level emphasis": "SmallDistanceHighGrayLevelEmphasis",
    "Large distance low grey level emphasis": "LargeDistanceLowGrayLevelEmphasis",
    "Large distance high grey level emphasis": "LargeDistanceHighGrayLevelEmphasis",
    "Grey level non-uniformity": "GrayLevelNonUniformity",
    "Normalised grey level non-uniformity": "GrayLevelNonUniformityNormalized",
    "Zone distance non-uniformity": "ZoneDistanceNonUniformity",
    "Normalised zone distance non-uniformity": "ZoneDistanceNonUniformityNormalized",
    "Zone percentage": "ZonePercentage", "Grey level variance": "GrayLevelVariance",
    "Zone distance variance": "ZoneDistanceVariance", "Zone distance entropy": "ZoneDistanceEntropy",
}


def test_every_ibsi_reference_value_of_the_family_is_reproduced():
    assert not texture_family_misses("Grey level distance zone based features", 48, gldzm_features, IBSI_NAMES)


def test_a_hand_made_slice():
    """5 x 5 ROI: a ring of level 1 around a 3 x 3 block of level 2 whose centre is level 3.
    Distances to the edge: 1 on the ring, 2 next, 3 at the centre; zones: the ring (level 1, distance 1),
    the block's ring (level 2, distance 2), the centre (level 3, distance 3)."""
    levels = np.ones((5, 5), dtype=int)
    levels[1:4, 1:4] = 2
    levels[2, 2] = 3
    mask = np.ones((5, 5), dtype=bool)
    assert distance_to_edge(mask)[2].tolist() == [1, 2, 3, 2, 1]
    notched = mask.copy()
    notched[0, 0] = False  # a voxel diagonal to the notch is 2 steps (4-connected) from outside, not 1
    assert distance_to_edge(notched)[1, 1] == 2
    matrix, voxels = gldzm(levels, mask, 3)
    np.testing.assert_array_equal(matrix, np.eye(3, dtype=int))
    features = gldzm_features(levels[None], mask[None], 3, "2D")  # in 3D a lone slice is all edge
    assert voxels == 25 and features["ZonePercentage"] == 3 / 25
    assert np.isclose(features["SmallDistanceEmphasis"], (1 + 1 / 4 + 1 / 9) / 3)
    assert np.isclose(features["ZoneDistanceEntropy"], np.log2(3))
    # Diagonal neighbours belong to one zone (8-connected), but distances step 4-connected.
    diagonal = np.array([[1, 2], [2, 1]])
    matrix, _ = gldzm(diagonal, np.ones((2, 2), bool), 2)
    assert matrix.tolist() == [[1], [1]]
    assert pd.isna(gldzm_features(levels[None], np.zeros((1, 5, 5), bool), 3)["ZonePercentage"])
