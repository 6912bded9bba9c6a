"""Morphological features PyRadiomics lacks (and the axis lengths it computes with 1/N) against the IBSI-1
reference values of the digital phantom, and a hand-made cube.

(In the extraction as part of the `IBSI` preset: features/ibsi/families.py, test_ibsi_phantom.py.)
"""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk
from ibsitools import misses, phantom_arrays, reference_rows
from radiomics import shape
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
    # Axis lengths 4 sqrt(lambda): the positions of 5 voxels 2 mm apart have variance 8 mm^2, and the IBSI's
    # N - 1 over 125 voxels makes it 8 * 125 / 124.
    for axis in ("MajorAxisLength", "MinorAxisLength", "LeastAxisLength"):
        assert features[axis] == pytest.approx(4 * np.sqrt(25 * 40 / 124), rel=1e-12), axis  # 11.359 mm
    # The marching-cubes mesh is convex (a cube with bevelled edges and corners) and its bounding box is the
    # 10 mm cube: its volume (PyRadiomics' MeshVolume, computed apart) over 1000 mm^3, and 1 for the hull.
    sitk_image = sitk.GetImageFromArray(image)
    sitk_image.SetSpacing((2.0, 2.0, 2.0))
    sitk_mask = sitk.GetImageFromArray(mask.astype(np.uint8))
    sitk_mask.CopyInformation(sitk_image)
    pyradiomics_shape = shape.RadiomicsShape(sitk_image, sitk_mask, label=1)
    pyradiomics_shape.enableFeatureByName("MeshVolume")
    mesh_volume = float(pyradiomics_shape.execute()["MeshVolume"])
    assert features["VolumeDensityAABB"] == pytest.approx(mesh_volume / 1000.0, rel=1e-9)
    assert features["VolumeDensityConvexHull"] == pytest.approx(1.0, rel=1e-9)
    centre = np.argwhere(mask).mean(axis=0) * 2.0
    weighted = (np.argwhere(mask) * 2.0 * image[mask][:, None]).sum(axis=0) / image[mask].sum()
    assert np.isclose(features["CentreOfMassShift"], np.linalg.norm(centre - weighted)) and features["CentreOfMassShift"] > 0
    assert features["Asphericity"] > 0  # a cube is less round than a sphere
