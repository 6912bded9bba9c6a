"""DICOM input: RTSTRUCT contours rasterised onto their CT series against the IBSI's own conversions (the
CT phantom and two soft-tissue-sarcoma patients, ../shared/data), features from DICOM equal to features
from the IBSI's NIfTI files, DICOM SEG and SR written and read back, and bad DICOM refused clearly."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from RadiomicsWorkshopLib.features.ibsi.reference import default_reference_dir
from RadiomicsWorkshopLib.io import images
from RadiomicsWorkshopLib.io.dicom import rtstruct, seg, series, sr
from RadiomicsWorkshopLib.io.errors import InputError

IBSI = default_reference_dir()
STS = IBSI.parent / "sts"
#: case -> (image series folder, RTSTRUCT, ROI, the IBSI's NIfTI image and mask of the same contour)
CASES = {
    "ct_phantom": (IBSI / "ct_phantom/dicom/image", IBSI / "ct_phantom/dicom/mask/DCM_RS_00060.dcm", "GTV-1",
                   IBSI / "ct_phantom/nifti/image/phantom.nii.gz", IBSI / "ct_phantom/nifti/mask/mask.nii.gz"),
    "STS_001": (STS / "dicom/STS_001/CT/image", STS / "dicom/STS_001/CT/mask/RS.dcm", "GTV_Mass_CT",
                STS / "nifti/STS_001/CT_image.nii.gz", STS / "nifti/STS_001/CT_mask.nii.gz"),
    "STS_002": (STS / "dicom/STS_002/CT/image", STS / "dicom/STS_002/CT/mask/RS.dcm", "GTV_Mass_CT",
                STS / "nifti/STS_002/CT_image.nii.gz", STS / "nifti/STS_002/CT_mask.nii.gz"),
}


@pytest.fixture(scope="module", autouse=True)
def _data():
    missing = [str(p) for case in CASES.values() for p in case if isinstance(p, Path) and not p.exists()]
    if missing:
        pytest.fail(f"DICOM test data missing (see ../shared/data/*/README.md): {missing[:3]}", pytrace=False)


def _dicom_case(name: str):
    folder, rs, roi, _, _ = CASES[name]
    image, found = images.read_case_image(folder, mask=rs)
    return image, found, images.read_rois(rs, [roi], image=image, series=found)[0]


def _same_grid(a: sitk.Image, b: sitk.Image) -> bool:
    return (a.GetSize() == b.GetSize() and np.allclose(a.GetOrigin(), b.GetOrigin(), atol=1e-3)
            and np.allclose(a.GetSpacing(), b.GetSpacing(), atol=1e-4)
            and np.allclose(a.GetDirection(), b.GetDirection(), atol=1e-6))


@pytest.mark.parametrize("name", list(CASES))
def test_rtstruct_masks_equal_the_ibsi_conversions_voxel_for_voxel(name):
    image, _, roi = _dicom_case(name)
    reference = sitk.ReadImage(str(CASES[name][4]))
    assert _same_grid(image, reference), "the DICOM series and the IBSI's NIfTI image differ in geometry"
    ours, theirs = sitk.GetArrayFromImage(roi.mask) > 0, sitk.GetArrayFromImage(reference) > 0
    dice = 2 * (ours & theirs).sum() / (ours.sum() + theirs.sum())
    assert (ours ^ theirs).sum() == 0, f"{name}: Dice {dice:.5f}, {(ours ^ theirs).sum()} voxels disagree"


def test_two_contours_on_one_slice_combine_by_the_even_odd_rule(tmp_path):
    """STS_001 has a slice with two contours: drawn by exclusive or (a hole) or union (islands), the IBSI's
    conversion fixes which; and a hand-made ring (a contour inside another) is a hole."""
    import pydicom

    dataset = pydicom.dcmread(str(CASES["STS_001"][1]))
    z = [round(float(c.ContourData[2]), 2) for c in dataset.ROIContourSequence[0].ContourSequence]
    assert max(z.count(v) for v in z) == 2
    image = sitk.Image([20, 20, 3], sitk.sitkInt16)
    square = lambda lo, hi: [v for x, y in ((lo, lo), (hi, lo), (hi, hi), (lo, hi)) for v in (x, y, 1.0)]
    dataset.ROIContourSequence[0].ContourSequence = dataset.ROIContourSequence[0].ContourSequence[:2]
    outer, inner = dataset.ROIContourSequence[0].ContourSequence
    outer.ContourData, inner.ContourData = square(2, 15), square(6, 11)
    for contour in (outer, inner):
        contour.NumberOfContourPoints = 4
    path = tmp_path / "ring.dcm"
    dataset.save_as(str(path))
    ring = rtstruct.rasterise(path, "GTV_Mass_CT", image)
    assert ring[1, 2:16, 2:16].sum() == 14 * 14 - 6 * 6 and not ring[1, 6:12, 6:12].any() and not ring[0].any()


def test_features_from_dicom_equal_features_from_the_ibsi_nifti():
    from RadiomicsWorkshopLib.features.extraction import extract_case_result
    from RadiomicsWorkshopLib.features.presets import params_from_dict

    params = params_from_dict({"imageType": {"Original": {}}, "setting": {"binWidth": 25, "label": 1}})
    folder, rs, roi, nifti_image, nifti_mask = CASES["ct_phantom"]
    dicom = extract_case_result(folder, rs, params, rois=[roi], case_id="phantom").rows[0]
    nifti = extract_case_result(nifti_image, nifti_mask, params, rois=["1"], case_id="phantom").rows[0]
    columns = [c for c in nifti if c.startswith("original_")]
    assert len(columns) > 100
    off = {c: (dicom[c], nifti[c]) for c in columns if not np.isclose(dicom[c], nifti[c], rtol=1e-6, atol=0)}
    assert not off, off


def test_patient_id_comes_from_the_header_where_the_manifest_has_none():
    from RadiomicsWorkshopLib.features.extraction import extract_case_result
    from RadiomicsWorkshopLib.features.presets import params_from_dict

    params = params_from_dict({"imageType": {"Original": {}}, "featureClass": {"firstorder": ["Mean"]},
                               "setting": {"binWidth": 25}})
    folder, rs, roi, _, _ = CASES["STS_002"]
    result = extract_case_result(folder, rs, params, rois=[roi], case_id="case")
    assert result.rows[0]["patient_id"] == "STS_002"
    assert result.info["dicom"]["patient_id_from"] == "DICOM header (PatientID)"
    assert result.info["dicom"]["image_series_uid"] == rtstruct.referenced_series_uid(rs)
    named = extract_case_result(folder, rs, params, rois=[roi], case_id="case", patient_id="P7")
    assert named.rows[0]["patient_id"] == "P7" and "patient_id_from" not in named.info["dicom"]


def _dciodvfy_errors(path: Path) -> set[str]:
    done = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True)
    return {line.strip() for line in (done.stdout + done.stderr).splitlines() if line.startswith("Error")}


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """A SEG of STS_002's ROI and an SR of three of its features, written by us."""
    folder = tmp_path_factory.mktemp("dicom_out")
    image, found, roi = _dicom_case("STS_002")
    seg_path = seg.write_seg(roi.mask, found, [seg.SegmentInfo(1, "GTV_Mass_CT")], folder / "roi.seg.dcm",
                             algorithm="RadiomicsWorkshop", version="test")
    features = [sr.Feature("original_shape_MeshVolume", 17000.25, ("RNU0", sr.IBSI_SCHEME), "mm3"),
                sr.Feature("original_firstorder_Mean", -12.5, ("Q4LE", sr.IBSI_SCHEME), "[hnsf'U]"),
                sr.Feature("original_glcm_MCC", 0.375, ("original_glcm_MCC", sr.PRIVATE_SCHEME), "1")]
    sr_path = sr.write_report(folder / "features.sr.dcm", found.files, seg_path,
                              [sr.RoiMeasurements("GTV_Mass_CT", 1, features)], algorithm="RadiomicsWorkshop",
                              version="test")
    return image, found, roi, seg_path, sr_path, features


def test_seg_round_trip_gives_the_same_label_map(written):
    import highdicom

    _, found, roi, seg_path, _, _ = written
    drawn = sitk.GetArrayFromImage(roi.mask) > 0
    by_highdicom = highdicom.seg.segread(str(seg_path)).get_pixels_by_source_instance(
        series.sop_instance_uids(found), segment_numbers=[1])[..., 0] > 0
    ours = images.read_rois(seg_path, ["GTV_Mass_CT"], image=written[0], series=found)[0]
    assert np.array_equal(by_highdicom, drawn)
    assert np.array_equal(sitk.GetArrayFromImage(ours.mask) > 0, drawn)
    assert images.mask_series(seg_path) == found.uid


def test_sr_gives_back_the_numbers(written):
    *_, sr_path, features = written
    assert sr.read_report(sr_path) == {"ROI GTV_Mass_CT": {f.name: f.value for f in features}}


@pytest.mark.skipif(shutil.which("dciodvfy") is None, reason="dciodvfy (Debian's dicom3tools) is not installed")
def test_dciodvfy_finds_no_error_of_ours_in_the_seg_and_the_sr(written):
    """Errors that the source CT slices carry themselves (their Study ID is 17 characters, SH allows 16) are
    copied into any object that references them; every other error would be ours."""
    _, found, _, seg_path, sr_path, _ = written
    inherited = _dciodvfy_errors(Path(found.files[0]))
    for path in (seg_path, sr_path):
        assert _dciodvfy_errors(path) - inherited == set(), path.name


def test_an_rtstruct_of_another_series_is_refused():
    image, found = images.read_case_image(CASES["STS_002"][0])
    with pytest.raises(InputError, match="frame of reference .* but the image series"):
        images.read_rois(CASES["STS_001"][1], ["GTV_Mass_CT"], image=image, series=found)


def test_a_missing_slice_is_refused_naming_the_gap(tmp_path):
    folder = CASES["STS_002"][0]
    files = sorted(folder.iterdir())
    for f in files:
        shutil.copy(f, tmp_path / f.name)
    chosen = series.find_series(tmp_path)
    (tmp_path / Path(chosen.files[len(chosen.files) // 2]).name).unlink()
    with pytest.raises(InputError, match="not evenly spaced.*a slice is missing"):
        images.read_case_image(tmp_path)


def test_a_missing_roi_or_segment_lists_the_names_present(written):
    image, found, _, seg_path, _, _ = written
    with pytest.raises(InputError, match="no ROI 'Liver' .*it has: GTV_Mass_CT"):
        images.read_rois(CASES["STS_002"][1], ["Liver"], image=image, series=found)
    with pytest.raises(InputError, match="no segment 'Liver' .*1: GTV_Mass_CT"):
        images.read_rois(seg_path, ["Liver"], image=image, series=found)


def test_a_folder_without_an_image_series_is_refused(tmp_path):
    shutil.copy(CASES["STS_002"][1], tmp_path / "RS.dcm")
    with pytest.raises(InputError, match="no DICOM image series"):
        images.read_case_image(tmp_path)
    with pytest.raises(InputError, match="needs the image it was drawn on"):
        images.read_rois(tmp_path / "RS.dcm", ["GTV_Mass_CT"])


def test_a_folder_of_two_series_is_chosen_by_the_mask_or_refused(tmp_path):
    for name in ("STS_001", "STS_002"):
        for f in CASES[name][0].iterdir():
            shutil.copy(f, tmp_path / f"{name}_{f.name}")
    with pytest.raises(InputError, match="holds 2 DICOM series"):
        images.read_case_image(tmp_path)
    image, found = images.read_case_image(tmp_path, mask=CASES["STS_002"][1])
    assert found.uid == rtstruct.referenced_series_uid(CASES["STS_002"][1]) and image.GetSize()[2] == 48
    first = rtstruct.referenced_series_uid(CASES["STS_001"][1])
    image, found = images.read_case_image(tmp_path, series=first, mask=CASES["STS_002"][1])  # the UID wins
    assert found.uid == first and image.GetSize()[2] == 59
    with pytest.raises(InputError, match="no series 1.2.3 .*it holds: "):
        images.read_case_image(tmp_path, series="1.2.3")


@pytest.mark.slow
def test_the_two_sarcoma_patients_from_dicom_to_a_feature_table_and_an_sr_each(tmp_path):
    """The command line on real DICOM: CT series + RTSTRUCT of STS_001 and STS_002 through `extract` with the
    CT preset, a feature table, and a SEG + SR per case that give back the table's numbers and the ROI."""
    import pandas as pd
    from clitools import cli

    manifest = tmp_path / "manifest.csv"
    rows = [f"{name},{CASES[name][0]},{CASES[name][1]},{CASES[name][2]}" for name in ("STS_001", "STS_002")]
    manifest.write_text("case_id,image,mask,roi\n" + "\n".join(rows) + "\n")
    cli("extract", "--manifest", manifest, "--preset", "CT", "--out", tmp_path / "features.csv",
        "--dicom-report", tmp_path / "dicom")
    table = pd.read_csv(tmp_path / "features.csv")
    assert table["patient_id"].tolist() == ["STS_001", "STS_002"] and table.shape[1] > 1000
    for _, row in table.iterrows():
        report = sr.read_report(tmp_path / "dicom" / f"{row.case_id}.sr.dcm")
        values = report[f"ROI {row.roi}"]
        numeric = {c: row[c] for c in table.columns if c.startswith(("original_", "log-", "wavelet-"))}
        assert values.keys() == {c for c, v in numeric.items() if np.isfinite(v)}
        assert all(np.isclose(values[c], numeric[c], rtol=1e-12, atol=0) for c in values)
        image, found, roi = _dicom_case(row.case_id)
        segment = images.read_rois(tmp_path / "dicom" / f"{row.case_id}.seg.dcm", [row.roi], image=image,
                                   series=found)[0]
        assert np.array_equal(sitk.GetArrayFromImage(segment.mask), sitk.GetArrayFromImage(roi.mask))


@pytest.mark.slow
def test_segment_writes_a_dicom_seg_of_its_label_map_on_dicom_input(tmp_path):
    """`segment --dicom-seg` on a DICOM series: a SEG referencing that series, whose segments (named by the
    bundle's labels) read back as the label map written beside it."""
    from clitools import cli, write_untrained_bundle

    bundle = write_untrained_bundle(tmp_path / "bundle")
    manifest = tmp_path / "manifest.csv"
    manifest.write_text(f"case_id,image\nSTS_002,{CASES['STS_002'][0]}\n")
    cli("segment", "--model", bundle, "--manifest", manifest, "--out-dir", tmp_path / "out", "--dicom-seg")
    labels = sitk.ReadImage(str(tmp_path / "out" / "STS_002_seg.nrrd"))
    present = [int(v) for v in np.unique(sitk.GetArrayFromImage(labels)) if v]
    assert present, "the seeded network labels nothing here: the test needs another seed"
    seg_path = tmp_path / "out" / "STS_002_seg.dcm"
    image, found = images.read_case_image(CASES["STS_002"][0])
    names = seg.segment_names(seg_path)
    assert seg.referenced_series_uid(seg_path) == found.uid and len(names) == len(present)
    for number, value in zip(names, present):
        back = seg.read_segment(seg_path, names[number], found)
        assert np.array_equal(back, sitk.GetArrayFromImage(labels) == value)


def test_evaluate_seg_takes_an_rtstruct_as_the_reference(tmp_path):
    """The IBSI's NIfTI mask of STS_001 as the prediction, its RTSTRUCT as the reference: the same ROI."""
    import pandas as pd
    from clitools import cli

    _, rs, _, _, nifti_mask = CASES["STS_001"]
    cli("evaluate-seg", "--prediction", nifti_mask, "--reference", rs, "--out", tmp_path / "metrics.csv")
    row = pd.read_csv(tmp_path / "metrics.csv").iloc[0]
    assert row["label"] == 1 and row["dice"] == 1.0 and row["hausdorff95_mm"] == 0.0


@pytest.mark.slow
def test_deep_features_and_preprocessing_take_a_dicom_case(tmp_path):
    """deep-features on the CT series + RTSTRUCT of STS_002 equal those on the IBSI's NIfTI image and mask;
    preprocess writes the RTSTRUCT's ROI as the case's mask, on the image's (resampled) grid."""
    import pandas as pd
    from clitools import cli

    folder, rs, roi, nifti_image, nifti_mask = CASES["STS_002"]
    manifest = tmp_path / "manifest.csv"
    manifest.write_text(f"case_id,image,mask,roi\ndicom,{folder},{rs},{roi}\nnifti,{nifti_image},{nifti_mask},1\n")
    cli("deep-features", "--manifest", manifest, "--weights", "random", "--modality", "CT", "--device", "cpu",
        "--out", tmp_path / "deep.csv", "--progress", "none")
    deep = pd.read_csv(tmp_path / "deep.csv").set_index("case_id").filter(like="deep_")
    assert deep.shape[1] > 100 and np.allclose(deep.loc["dicom"], deep.loc["nifti"], rtol=1e-5, atol=1e-6)
    cli("preprocess", "--manifest", manifest, "--recipe", "CT", "--out-dir", tmp_path / "pre", "--progress", "none")
    written = pd.read_csv(tmp_path / "pre" / "manifest.csv").set_index("case_id")
    masks = {case: sitk.GetArrayFromImage(sitk.ReadImage(str(tmp_path / "pre" / written.loc[case, "mask"]))) > 0
             for case in ("dicom", "nifti")}
    assert masks["dicom"].sum() > 1000 and np.array_equal(masks["dicom"], masks["nifti"])
