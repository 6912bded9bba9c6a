"""Morphological features PyRadiomics lacks (and the axis lengths it computes with 1/N) against the IBSI-1
reference values of the digital phantom, and a hand-made cube.

(In the extraction as part of the `IBSI` preset: features/ibsi/families.py, test_ibsi_phantom.py.)
"""

from __future__ import annotations

import numpy as np
from ibsitools import misses, phantom_arrays, reference_rows
from RadiomicsWorkshopLib.features.ibsi.morphology import morphology_features

BY_FEATURE = {  # IBSI feature name -> ours
    "Asphericity": "Asphericity", "Centre of mass shift": "CentreOfMassShift",
    "Major axis length": "MajorAxisLength", "Minor axis length": "MinorAxisLength",
    "Least axis length": "LeastAxisLength",
    "Volume density (axis-aligned bounding box)": "VolumeDensityAABB",
    "Area density (axis-aligned bounding box)": "AreaDensityAABB",
    "Volume density (approximate enclosing ellipsoid)": "VolumeDensityAEE",
    "Area density (approximate enclosing ellipsoid)": "AreaDensityAEE",
    "Volume density (convex hull)": "VolumeDensityConvexHull", "Area density (convex hull)": "AreaDensityConvexHull",
    "Integrated intensity": "IntegratedIntensity", "Moran’s I index": "MoransI", "Geary’s C measure": "GearysC",
    "Volume (mesh)": "MeshVolume", "Surface area (mesh)": "SurfaceArea",
}


def test_every_ibsi_reference_value_pyradiomics_lacks_is_reproduced():
    values, mask, spacing = phantom_arrays()
    ours = morphology_features(values, mask, spacing)
    rows = reference_rows(lambda r: r["feature"].isin(BY_FEATURE))
    assert len(rows) == 16
    assert not misses(rows, lambda row: ours[BY_FEATURE[row.feature]])


def test_a_cube():
    """A 10 mm cube of 2 mm voxels, constant but for one corner voxel: the mesh fills most of its bounding
    box and its convex hull; the intensity-weighted centre moves towards the brighter corner."""
    mask = np.zeros((9, 9, 9), bool)
    mask[2:7, 2:7, 2:7] = True
    image = np.where(mask, 10.0, 0.0)
    image[2, 2, 2] = 20.0
    features = morphology_features(image, mask, (2.0, 2.0, 2.0))
    assert 0.9 < features["VolumeDensityAABB"] <= 1.0 and 0.9 < features["VolumeDensityConvexHull"] <= 1.0
    assert features["MajorAxisLength"] == features["MinorAxisLength"] == features["LeastAxisLength"]
    centre = np.argwhere(mask).mean(axis=0) * 2.0
    weighted = (np.argwhere(mask) * 2.0 * image[mask][:, None]).sum(axis=0) / image[mask].sum()
    assert np.isclose(features["CentreOfMassShift"], np.linalg.norm(centre - weighted)) and features["CentreOfMassShift"] > 0
    assert features["Asphericity"] > 0  # a cube is less round than a sphere
