"""Our feature engine (features/engine, features/preparation) against PyRadiomics itself, called directly on
the sample cases with settings the baseline files do not cover (every class, the deprecated shape
features, fixed bin number, a wider NGLDM coarseness, relative re-segmentation, in-plane texture along
another axis, a voxel shift); the choice between the engines; the command line's --engine; and an
extraction where PyRadiomics cannot be imported at all. (The baseline files: test_pyradiomics_baseline.py.)
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from clitools import cli
from RadiomicsWorkshopLib.features.extraction import extract_case
from RadiomicsWorkshopLib.features.presets import load_params, with_engine
from RadiomicsWorkshopLib.io.errors import SettingsError

ALL = {"firstorder": [], "shape": [], "glcm": [], "glrlm": [], "glszm": [], "gldm": [], "ngtdm": []}
SETTINGS = {
    "defaults": {},
    "fixed bin number, NGLDM alpha 1, voxel shift": {"binCount": 16, "gldm_a": 1, "voxelArrayShift": 1000},
    "relative re-segmentation": {"resegmentRange": [0.2, 0.9], "resegmentMode": "relative", "binWidth": 10},
    "in-plane along y, merged": {"force2D": True, "force2Ddimension": 1, "weightingNorm": "no_weighting"},
    "distances 1 and 2": {"distances": [1, 2]},
    "distance 2, NGLDM alpha 1": {"distances": [2], "gldm_a": 1},
    "asymmetric GLCM": {"symmetricalGLCM": False},
    "euclidean weights": {"weightingNorm": "euclidean"},
    "manhattan weights": {"weightingNorm": "manhattan"},
    "infinity weights, in-plane": {"weightingNorm": "infinity", "force2D": True},
    "distance 3 (directions without pairs)": {"distances": [3]},
    "in-plane along x, distance 2 (voxels without neighbours)": {"force2D": True, "force2Ddimension": 2,
                                                                 "distances": [2]},
}


def _pyradiomics(image, mask, params) -> dict[str, float]:
    import radiomics
    from radiomics import featureextractor

    radiomics.setVerbosity(logging.ERROR)
    result = featureextractor.RadiomicsFeatureExtractor(params).execute(str(image), str(mask))
    return {k: float(v) for k, v in result.items() if not k.startswith("diagnostics_")}


@pytest.mark.parametrize("case", ["brain2", "breast1"])
@pytest.mark.parametrize("name", SETTINGS)
def test_every_feature_equals_pyradiomics(case, name, sample_case):
    image, mask = sample_case(case)
    classes = {**ALL, "shape": ["Compactness1", "Compactness2", "SphericalDisproportion", "Maximum3DDiameter",
                                "Maximum2DDiameterColumn", "MeshVolume", "Flatness"]}
    params = {"imageType": {"Original": {}}, "featureClass": classes, "setting": {"label": 1, **SETTINGS[name]}}
    theirs = _pyradiomics(image, mask, params)
    ours = extract_case(image, mask, params={**params, "workshop": {"engine": "ours"}}).iloc[0]
    assert set(ours.index) - {"case_id", "roi"} == set(theirs)
    off = {k: (ours[k], v) for k, v in theirs.items() if not abs(ours[k] - v) <= 1e-6 * abs(v) + 1e-12}
    assert not off, off


IMAGE_TYPES = {"Original": {}, "LoG": {"sigma": [1.0, 3.0]}, "Wavelet": {}, "Square": {}, "SquareRoot": {},
               "Logarithm": {}, "Exponential": {}, "Gradient": {"binWidth": 5},
               "LBP2D": {"binWidth": 1, "lbp2DRadius": 2, "lbp2DSamples": 16}}


@pytest.mark.parametrize("case", ["brain2", "breast1"])
def test_every_image_type_equals_pyradiomics(case, sample_case):
    """Filtered around the ROI as the ROI crop does (LoG: 12 sigmas; its IIR edge moves LoG features by at
    most 6e-8 here), every image type's features equal PyRadiomics' on the whole image, in its order (LBP2D
    with its own bins, radius and samples: an image type's settings are laid over the preset's)."""
    image, mask = sample_case(case)
    params = {"imageType": IMAGE_TYPES, "featureClass": {"firstorder": [], "glcm": [], "glszm": []},
              "setting": {"label": 1, "binWidth": 25}}
    theirs = _pyradiomics(image, mask, params)
    ours = extract_case(image, mask, params={**params, "workshop": {"engine": "ours"}}).iloc[0]
    assert list(ours.index)[2:] == list(theirs) and len(theirs) == 17 * (18 + 24 + 16)
    off = {k: (ours[k], v) for k, v in theirs.items() if not abs(ours[k] - v) <= 1e-6 * abs(v) + 1e-12}
    assert not off, off


def test_auto_takes_our_engine_where_it_computes_everything():
    assert load_params("IBSI").engine == load_params("CT").engine == load_params("MR").engine == "ours"
    lbp = {"imageType": {"Original": {}, "LBP3D": {}}}
    assert load_params(params=lbp).engine == "pyradiomics"  # LBP3D: PyRadiomics (which cannot run it today)
    assert with_engine(load_params("CT"), "pyradiomics").engine == "pyradiomics"
    with pytest.raises(SettingsError, match="our feature engine cannot compute image type LBP3D"):
        load_params(params={**lbp, "workshop": {"engine": "ours"}})
    with pytest.raises(SettingsError, match="our feature engine cannot compute glcm feature\\(s\\) Dissimilarity"):
        load_params(params={"featureClass": {"glcm": ["Dissimilarity"]}, "workshop": {"engine": "ours"}})
    assert load_params(params={"featureClass": {"glcm": ["Dissimilarity"]}}).engine == "pyradiomics"
    with pytest.raises(SettingsError, match="unknown engine 'fast'"):
        load_params(params={"workshop": {"engine": "fast"}})
    # the engine is recorded, and left out of the settings digest: both compute the same numbers
    ours, theirs = (load_params(params={"workshop": {"engine": e}}) for e in ("ours", "pyradiomics"))
    assert ours.to_dict()["engine"] == "ours" and ours.digest() == theirs.digest()


def test_the_command_line_chooses_the_engine(sample_case, tmp_path):
    image, mask = sample_case("breast1")
    tables = {}
    for engine in ("ours", "pyradiomics"):
        out = tmp_path / f"{engine}.csv"
        cli("extract", "--image", image, "--mask", mask, "--preset", "IBSI", "--engine", engine, "--out", out,
            "--progress", "none", "--jobs", 1)
        tables[engine] = pd.read_csv(out).iloc[0]
        provenance = json.loads(out.with_suffix(".provenance.json").read_text())
        assert provenance["settings"]["engine"] == engine
    ours, theirs = tables["ours"], tables["pyradiomics"]
    columns = [c for c in theirs.index if c not in ("case_id", "roi")]
    assert list(ours.index) == list(theirs.index)
    assert np.allclose(ours[columns].astype(float), theirs[columns].astype(float), rtol=1e-6, atol=1e-12)
    lbp = tmp_path / "lbp.yaml"
    lbp.write_text("imageType: {Original: {}, LBP3D: {}}\n")
    done = cli("extract", "--image", image, "--mask", mask, "--params", lbp, "--engine", "ours", "--out",
               tmp_path / "lbp.csv", "--progress", "none", check=False)
    assert done.returncode == 2 and "our feature engine cannot compute image type LBP3D" in done.stderr


BLOCK_PYRADIOMICS = """
import sys
class _NoPyRadiomics:
    def find_spec(self, name, path=None, target=None):
        if name == "radiomics" or name.startswith("radiomics."):
            raise ImportError("PyRadiomics is blocked for this test")
sys.meta_path.insert(0, _NoPyRadiomics())
"""


def test_extraction_works_where_pyradiomics_cannot_be_imported(tmp_path):
    """The IBSI preset on the IBSI digital phantom, in a Python where ``import radiomics`` fails: all 482
    reference values by our engine and families; settings that need PyRadiomics fail, saying so."""
    from RadiomicsWorkshopLib.features.ibsi import reference as ibsi

    (tmp_path / "sitecustomize.py").write_text(BLOCK_PYRADIOMICS)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])}
    probe = subprocess.run([sys.executable, "-c", "import radiomics"], env=env, capture_output=True, text=True)
    assert probe.returncode != 0 and "blocked" in probe.stderr
    nifti = ibsi.default_reference_dir() / "digital_phantom" / "nifti"
    command = [sys.executable, "-m", "RadiomicsWorkshopLib", "extract", "--image", nifti / "image" / "phantom.nii.gz",
               "--mask", nifti / "mask" / "mask.nii.gz", "--preset", "IBSI", "--progress", "none", "--jobs", "1"]
    done = subprocess.run([*map(str, command), "--out", str(tmp_path / "ibsi.csv")], env=env, capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stderr
    compared = ibsi.compare_to_reference(pd.read_csv(tmp_path / "ibsi.csv").iloc[0], reference=ibsi.load_reference())
    assert len(compared) == 482 and compared["reproduced"].all()
    lbp = tmp_path / "lbp.yaml"
    lbp.write_text("imageType: {Original: {}, LBP3D: {}}\n")
    done = subprocess.run([*map(str, command[:-6]), "--params", str(lbp), "--out", str(tmp_path / "lbp.csv"),
                           "--progress", "none"], env=env, capture_output=True, text=True)
    assert done.returncode == 2 and "PyRadiomics is not installed (our engine cannot compute image type LBP3D" \
        in done.stderr, done.stderr


def test_a_2d_image_with_force2d_is_pyradiomics_own(sample_case):
    """PyRadiomics keeps one angle for a 2D image with force2D (its generate_angles drops those along
    force2Ddimension of the 2D array), not the slice's four that the same slice as a 3D image gets: our
    engine hands that case to PyRadiomics, and says so in the diagnostics."""
    import SimpleITK as sitk
    from RadiomicsWorkshopLib.features.engine.extractor import Extractor

    image, mask = (sitk.ReadImage(str(p)) for p in sample_case("breast1"))
    z = int(np.argmax((sitk.GetArrayViewFromImage(mask) == 1).sum(axis=(1, 2))))
    params = {"imageType": {"Original": {}}, "featureClass": {"glcm": ["Contrast"], "glrlm": ["RunPercentage"]},
              "setting": {"binWidth": 25, "force2D": True, "label": 1}}
    flat = Extractor(params).execute(image[:, :, z], mask[:, :, z])
    one_slice = Extractor(params).execute(image[:, :, z:z + 1], mask[:, :, z:z + 1])
    import radiomics
    from radiomics import featureextractor

    radiomics.setVerbosity(logging.ERROR)
    theirs = featureextractor.RadiomicsFeatureExtractor(params).execute(image[:, :, z], mask[:, :, z])
    assert flat["diagnostics_Versions_Engine"] == "PyRadiomics (a 2D image with force2D)"
    assert float(flat["original_glcm_Contrast"]) == float(theirs["original_glcm_Contrast"])
    assert abs(float(one_slice["original_glcm_Contrast"]) - float(theirs["original_glcm_Contrast"])) > 1e-3


@pytest.mark.parametrize("mode, bounds", [("sigma", [-1.5, 1.5]), ("relative", [0.5, 0.9]), ("absolute", [12.0])])
def test_resegmentation_is_pyradiomics_own(mode, bounds):
    """Our re-segmentation against PyRadiomics' ``resegmentMask`` on a small ROI built so that the
    population and the sample standard deviation keep different voxels (the baselines' sigma cases do not tell)."""
    import SimpleITK as sitk
    from radiomics import imageoperations
    from RadiomicsWorkshopLib.features.preparation import resegmented

    def kept(x, ddof):
        return (x >= x.mean() - 1.5 * x.std(ddof=ddof)) & (x <= x.mean() + 1.5 * x.std(ddof=ddof))

    values = np.array([[[10.0, 11, 12, 13, 14, 15, 16, 17, 18, 30]]])
    for last in np.arange(18.0, 40.0, 0.01):  # a top voxel the population SD drops and the sample SD keeps
        values[0, 0, -1] = last
        if not np.array_equal(kept(values, 0), kept(values, 1)):
            break
    assert not np.array_equal(kept(values, 0), kept(values, 1))
    mask = np.ones(values.shape, bool)
    image, label = sitk.GetImageFromArray(values), sitk.GetImageFromArray(mask.astype(np.uint8))
    settings = {"resegmentRange": bounds, "resegmentMode": mode, "label": 1}
    theirs = sitk.GetArrayFromImage(imageoperations.resegmentMask(image, label, **settings)) == 1
    ours = resegmented(values, mask, settings)
    assert np.array_equal(ours, theirs) and 0 < ours.sum() < mask.sum()
