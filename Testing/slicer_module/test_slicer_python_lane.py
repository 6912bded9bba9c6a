"""The Slicer-Python lane: the module's dependency installation and the core's CLI in Slicer 5.10's Python.

A Python 3.12 virtual environment is given exactly the packages Slicer 5.10.0 installs into its Python, at
Slicer's pinned versions (Testing/data/slicer-5.10.0-python-packages.txt, read from Slicer's SuperBuild).
Then, as in Slicer:

1. the module's own installation runs there: ``RadiomicsWorkshopSlicerLib.dependencies.install`` with
   ``pip install`` standing in for ``slicer.util.pip_install`` (which runs ``PythonSlicer -m pip install``
   with the same arguments);
2. PyRadiomics is built by the recipe the extension ships (SuperBuild/pyradiomics_recipe.py: PyPI's 3.0.1
   source package, fixed for Python 3.12) into an extension python-packages folder (``--prefix``, as
   SuperBuild/External_python-pyradiomics.cmake does), which is put on the path as the Extension Manager does.

Checked: no package Slicer has changed version; PyRadiomics imports there and reproduces its own baseline
values (Testing/features/test_pyradiomics_baseline.py, run by that Python); the core's CLI runs extract, preprocess,
train and predict there with the command lines the module builds (RadiomicsWorkshopLib.commands); and without
the extension's packages, where PyRadiomics cannot be imported, our engine extracts (equal to PyRadiomics to 1e-6).
Deep features and segmentation are not run here: torch for Python 3.12 would be a multi-GB CUDA build
from PyPI (in Slicer the PyTorch extension installs it); the main suite runs them on Python 3.11.

The environment is built by Testing/tools/slicer_lane.py (``make test`` runs it before the suite; this module
builds it when it is missing or stale), kept in .cache/slicer-python-5.10.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest
from conftest import REPO, SAMPLE_CASES, sample_data_dir
from tools.slicer_lane import RECIPE, Lane, LaneError, ensure, pins
from tools.slicer_lane import run as _run

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def lane() -> tuple[Lane, dict]:
    try:
        return ensure()
    except LaneError as exc:
        pytest.fail(str(exc), pytrace=False)


def test_the_lane_is_slicer_5_10s_python(lane):
    _, state = lane
    assert state["before"]["python"] == [3, 12]
    wrong = {name: (state["before"]["packages"].get(name), version) for name, version in pins().items()
             if state["before"]["packages"].get(name) != version}
    assert not wrong, f"the lane does not hold Slicer 5.10's packages (found, pinned): {wrong}"


def test_installing_the_dependencies_changes_no_package_slicer_has(lane):
    """Defect 4: installing scikit-image pulled tifffile, which needs numpy >= 2.1, and pip replaced Slicer 5.10's
    numpy 2.0.2. Every package Slicer had keeps its version; the core's requirements are all there."""
    from RadiomicsWorkshopSlicerLib import dependencies

    _, state = lane
    before, after = state["before"]["packages"], state["after"]["packages"]
    changed = {name: (version, after.get(name)) for name, version in before.items() if after.get(name) != version}
    assert not changed, f"the module's installation changed Slicer's packages (before, after): {changed}"
    added = set(after) - set(before)
    for requirement in dependencies.requirementLines():
        assert dependencies.distributionName(requirement).lower() in after, f"{requirement} was not installed"
    assert {"scikit-learn", "pandas", "scikit-image", "pywavelets", "pykwalify", "pyradiomics"} <= added


def test_pyradiomics_is_the_recipes_build_on_python_3_12(lane):
    lane_, state = lane
    assert state["after"]["packages"]["pyradiomics"] == json.loads(
        (REPO / "SuperBuild" / "pyradiomics-source.json").read_text())["version"]
    assert "patched versioneer.py" in state["recipe_log"], "the recipe's Python 3.12 fix was not applied"
    where = _run(lane_.python, "-c", "import sys, radiomics, radiomics._cmatrices, radiomics._cshape; "
                 "print(sys.version_info[:2], radiomics.__file__)", env=lane_.env()).stdout
    assert "(3, 12)" in where and str(lane_.site) in where, where


def test_pyradiomics_reproduces_its_baseline_in_slicer_python(lane):
    """PyRadiomics' own baseline values for the five sample cases, to 1e-6, by the test of the main suite
    run with the lane's Python and the recipe-built PyRadiomics."""
    lane_, _ = lane
    env = {**lane_.env(), "RADIOMICS_WORKSHOP_DATA": str(sample_data_dir())}
    done = subprocess.run([str(lane_.python), "-m", "pytest", "-q", "-p", "no:cacheprovider", "--timeout=900",
                           str(REPO / "Testing" / "features" / "test_pyradiomics_baseline.py")],
                          capture_output=True, text=True, env=env, cwd=REPO)
    summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr[-2000:]
    assert done.returncode == 0, f"{done.stdout[-4000:]}\n{done.stderr[-2000:]}"
    assert " passed" in summary and "skipped" not in summary and "failed" not in summary, summary
    assert int(summary.split(" passed")[0].split()[-1]) > len(SAMPLE_CASES), summary


def test_the_cores_cli_runs_the_workflow_in_slicer_python(lane, tmp_path):
    """extract, preprocess, train, predict: the command lines the module builds, run by Slicer 5.10's Python."""
    from RadiomicsWorkshopLib import commands

    lane_, _ = lane
    data = sample_data_dir()
    image, label = str(data / "brain1_image.nrrd"), str(data / "brain1_label.nrrd")

    features = tmp_path / "brain1.csv"
    lane_.core(*commands.extraction_args(image, label, str(features), preset="MR", case_id="brain1"))
    table = pd.read_csv(features)
    assert len(table) == 1 and table["original_firstorder_Mean"].dtype.kind == "f"
    assert table.select_dtypes("number").shape[1] > 1000  # MR preset: original, LoG and wavelet

    lane_.core(*commands.preprocessing_args(image, str(tmp_path / "preprocessed"), "brain_MR", case_id="brain1"))
    manifest = pd.read_csv(tmp_path / "preprocessed" / "manifest.csv")
    assert (tmp_path / "preprocessed" / manifest["image"].iloc[0]).is_file()

    # a labelled cohort (the core's seeded phantoms), its features as a cohort run, a model, predictions
    cohort = tmp_path / "phantoms"
    lane_.core("sample-data", "--phantoms", "16", "--dest", str(cohort))
    params = tmp_path / "params.yaml"
    params.write_text("imageType: {Original: {}}\nfeatureClass: {firstorder: [], glcm: [], shape: []}\n"
                      "setting: {binWidth: 25, label: 1}\n")
    cohort_features = tmp_path / "cohort.csv"
    lane_.core("extract", "--manifest", str(cohort / "manifest.csv"), "--params", str(params), "--out",
               str(cohort_features), "--jobs", "2")
    model = tmp_path / "model"
    lane_.core(*commands.training_args([str(cohort_features)], "label", str(model), clinical=str(cohort / "manifest.csv")))
    card = json.loads((model / "card.json").read_text())
    assert card["cross_validation"]["metrics"]["auc"] > 0.7, "the phantom classes differ by design"
    predictions = tmp_path / "predictions.csv"
    lane_.core(*commands.prediction_args(str(model), [str(cohort_features)], str(predictions)))
    assert len(pd.read_csv(predictions)) == 16


def test_slicer_python_extracts_with_our_engine_without_pyradiomics(lane, tmp_path):
    """Without the extension's packages PyRadiomics cannot be imported; our engine extracts anyway: the MR
    preset (normalised, LoG and wavelet) on brain1, equal to the lane's own PyRadiomics to 1e-6, and the IBSI
    preset on the IBSI digital phantom, all 482 reference values."""
    from RadiomicsWorkshopLib.features.ibsi import reference as ibsi

    lane_, _ = lane
    env = {**lane_.env(), "PYTHONPATH": str(REPO / "RadiomicsWorkshop")}
    probe = subprocess.run([str(lane_.python), "-c", "import radiomics"], env=env, capture_output=True, text=True)
    assert probe.returncode != 0 and "No module named 'radiomics'" in probe.stderr, probe.stderr
    data = sample_data_dir()
    image, label = str(data / "brain1_image.nrrd"), str(data / "brain1_label.nrrd")
    tables = {}
    for engine, with_extension in (("ours", False), ("pyradiomics", True)):
        out = tmp_path / f"{engine}.csv"
        lane_.core("extract", "--image", image, "--mask", label, "--preset", "MR", "--engine", engine,
                   "--out", str(out), "--progress", "none", with_extension=with_extension)
        tables[engine] = pd.read_csv(out).iloc[0]
    ours, theirs = tables["ours"], tables["pyradiomics"]
    numbers = [c for c in theirs.index if c not in ("case_id", "roi")]
    assert len(numbers) > 1000 and list(ours.index) == list(theirs.index)
    off = {c: (ours[c], theirs[c]) for c in numbers if not abs(ours[c] - theirs[c]) <= 1e-6 * abs(theirs[c]) + 1e-12}
    assert not off, off
    nifti = ibsi.default_reference_dir() / "digital_phantom" / "nifti"
    lane_.core("extract", "--image", str(nifti / "image" / "phantom.nii.gz"), "--mask",
               str(nifti / "mask" / "mask.nii.gz"), "--preset", "IBSI", "--out", str(tmp_path / "ibsi.csv"),
               "--progress", "none", with_extension=False)
    compared = ibsi.compare_to_reference(pd.read_csv(tmp_path / "ibsi.csv").iloc[0], reference=ibsi.load_reference())
    assert len(compared) == 482 and compared["reproduced"].all()


def test_pypis_source_package_needs_the_recipes_fix_on_python_3_12(lane, tmp_path):
    """Defect 1, kept visible: without the recipe's fix the source package does not build on Python 3.12 (its
    versioneer.py calls configparser.SafeConfigParser). If it ever builds unpatched, the fix can go."""
    lane_, _ = lane
    source = _run(lane_.python, RECIPE, "fetch", tmp_path, env=lane_.env()).stdout.strip().splitlines()[-1]
    done = subprocess.run([str(lane_.python), "-m", "pip", "install", "--no-build-isolation", "--no-deps",
                           "--target", str(tmp_path / "site"), source], capture_output=True, text=True, env=lane_.env())
    assert done.returncode != 0 and "SafeConfigParser" in done.stdout + done.stderr, done.stdout[-1000:]


def test_slicer_python_reads_rtstruct_input_and_refuses_dicom_output_clearly(lane, tmp_path):
    """In Slicer 5.10's Python (pydicom 2.4.4, numpy 2.0.2, no highdicom): a DICOM CT series with its RTSTRUCT
    extracts, to the same numbers as the main suite's Python; a DICOM report is refused with the reason."""
    from RadiomicsWorkshopLib.features.ibsi import reference as ibsi

    lane_, state = lane
    assert state["after"]["packages"]["pydicom"] == "2.4.4" and "highdicom" not in state["after"]["packages"]
    sts = ibsi.default_reference_dir().parent / "sts" / "dicom" / "STS_002" / "CT"
    args = ["extract", "--image", str(sts / "image"), "--mask", str(sts / "mask" / "RS.dcm"), "--roi", "GTV_Mass_CT",
            "--preset", "CT", "--progress", "none"]
    lane_.core(*args, "--out", str(tmp_path / "slicer.csv"))
    done = subprocess.run([sys.executable, "-m", "RadiomicsWorkshopLib", *args, "--out", str(tmp_path / "main.csv")],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    slicer, main = pd.read_csv(tmp_path / "slicer.csv").iloc[0], pd.read_csv(tmp_path / "main.csv").iloc[0]
    numbers = [c for c in main.index if c.startswith(("original_", "log-", "wavelet-"))]
    assert len(numbers) > 1000 and slicer["patient_id"] == "STS_002"
    off = {c: (slicer[c], main[c]) for c in numbers if not abs(slicer[c] - main[c]) <= 1e-6 * abs(main[c]) + 1e-12}
    assert not off, off
    with pytest.raises(LaneError) as refused:
        lane_.core(*args, "--out", str(tmp_path / "again.csv"), "--dicom-report", str(tmp_path / "dicom"))
    assert "DICOM SEG and SR need highdicom 0.23 or later (not installed)" in str(refused.value)
