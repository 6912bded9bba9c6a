"""The IBSI's outlier filtering (``workshop: outliers``), alone (configuration D) and together with a range
(configuration E): the intensity mask keeps the ROI's voxels within mean +- N SD of the ROI (morphological
mask) that lie in the range too, the intersection the IBSI reference manual defines (docs/02_Image_processing.rst,
"Re-segmentation": "the intersection of the intensity ranges defined by the re-segmentation methods").
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import SimpleITK as sitk
from clitools import cli
from RadiomicsWorkshopLib.features.extraction import extract_case, extract_case_result
from RadiomicsWorkshopLib.features.ibsi.reference import default_reference_dir
from RadiomicsWorkshopLib.features.presets import load_params
from RadiomicsWorkshopLib.io.errors import SettingsError
from RadiomicsWorkshopLib.preprocessing.recipes import load_recipe

CT = default_reference_dir() / "ct_phantom" / "nifti"


def _phantom():
    """An ROI of soft tissue (about 40 HU, SD 10), a third of it air (-1000 HU), and one bright voxel
    (300 HU): the air pulls the ROI's mean and SD, so outliers computed over the ROI and over the range's
    voxels keep different voxels."""
    rng = np.random.default_rng(7)
    values = rng.normal(40, 10, (12, 16, 16))
    values[:4] = -1000
    values[6, 8, 8] = 300
    mask = np.zeros(values.shape, np.uint8)
    mask[1:11, 2:14, 2:14] = 1
    image, label = sitk.GetImageFromArray(values.astype(np.float32)), sitk.GetImageFromArray(mask)
    for x in (image, label):
        x.SetSpacing((1.0, 1.0, 2.0))
    return image, label, values.astype(np.float32).astype(float), mask.astype(bool)


def test_range_and_outliers_together_keep_the_intersection():
    image, label, values, mask = _phantom()
    roi = values[mask]
    inside_range = (roi >= -500) & (roi <= 400)
    by_roi = inside_range & (np.abs(roi - roi.mean()) <= 3 * roi.std())
    ranged = roi[inside_range]
    by_range = inside_range & (np.abs(roi - ranged.mean()) <= 3 * ranged.std())
    assert by_roi.sum() != by_range.sum() and 300 in roi[by_roi]  # the two readings differ here
    params = {"workshop": {"extends": "IBSI", "convention": "ibsi", "outliers": 3},
              "setting": {"binCount": 16, "resegmentRange": [-500, 400]}}
    row = extract_case(image, label, params=params).iloc[0]
    kept = roi[by_roi]
    assert np.isclose(row["original_firstorder_Mean"], kept.mean(), rtol=1e-9)
    assert (row["original_firstorder_Minimum"], row["original_firstorder_Maximum"]) == (kept.min(), kept.max())
    # the morphology keeps the ROI as drawn (its volume: every ROI voxel of 2 mm^3)
    assert row["original_shape_VoxelVolume"] == mask.sum() * 2.0
    # alone (no range): the ROI's mean +- 3 SD of all its voxels, air included
    alone = extract_case(image, label, params={**params, "setting": {"binCount": 16}}).iloc[0]
    kept = roi[np.abs(roi - roi.mean()) <= 3 * roi.std()]
    assert np.isclose(alone["original_firstorder_Mean"], kept.mean(), rtol=1e-9)


@pytest.mark.slow
def test_configuration_d_is_pyradiomics_sigma_mode_on_the_ct_phantom(tmp_path):
    """Outlier filtering alone is PyRadiomics' resegmentMode sigma: every column of the IBSI_CT_D preset the
    same with ``outliers: 3`` (ours) and with ``resegmentMode: sigma, resegmentRange: [-3, 3]`` (PyRadiomics')."""
    if not (CT / "image" / "phantom.nii.gz").is_file():
        pytest.fail(f"the IBSI-1 CT phantom is not in {CT} (see ../shared/data/ibsi/README.md)", pytrace=False)
    rows = {}
    sigma = {"workshop": {"extends": "IBSI", "ivh": "none", "convention": "ibsi"},
             "setting": {"binCount": 32, "resegmentMode": "sigma", "resegmentRange": [-3, 3]}}
    for name, params in (("ours", load_params("IBSI_CT_D")), ("sigma", load_params(params=sigma))):
        params.recipe = load_recipe("IBSI_CT_C")
        rows[name] = extract_case_result(CT / "image" / "phantom.nii.gz", CT / "mask" / "mask.nii.gz",
                                         params).to_frame().iloc[0]
    ours, theirs = rows["ours"], rows["sigma"]
    columns = [c for c in ours.index if c not in ("case_id", "roi")]
    assert len(columns) > 400 and list(columns) == [c for c in theirs.index if c not in ("case_id", "roi")]
    off = {c: (ours[c], theirs[c]) for c in columns if not np.isclose(ours[c], theirs[c], rtol=1e-9, equal_nan=True)}
    assert not off, off


@pytest.mark.parametrize("workshop, setting, message", [
    ({"outliers": 3}, {}, "'workshop: outliers' needs 'workshop: convention: ibsi'"),
    ({"convention": "ibsi", "outliers": 0}, {}, "must be a positive number of standard deviations"),
    ({"convention": "ibsi", "outliers": True}, {}, "must be a positive number of standard deviations"),
    ({"convention": "ibsi", "outliers": 3}, {"resegmentMode": "sigma", "resegmentRange": [-3, 3]},
     "'workshop: outliers' with 'setting: resegmentMode: sigma'"),
])
def test_outlier_settings_that_cannot_work_are_refused(workshop, setting, message, tmp_path):
    preset = tmp_path / "mine.yaml"
    preset.write_text(json.dumps({"workshop": {"extends": "IBSI", **workshop}, "setting": setting}))
    with pytest.raises(SettingsError) as error:
        load_params(params_file=preset)
    assert message in str(error.value) and "mine.yaml" in str(error.value)


def test_ibsi_check_says_when_no_configuration_it_was_asked_for_has_reference_values(tmp_path):
    """D and E have presets but no reference values in the IBSI data here: asked for, a clear error."""
    done = cli("ibsi-check", "--data", default_reference_dir(), "--configuration", "D", "--progress", "none",
               check=False)
    assert done.returncode == 2 and "no IBSI reference data set found" in done.stderr, done.stderr
