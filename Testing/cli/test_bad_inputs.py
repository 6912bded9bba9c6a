"""Every bad input gives a clear error naming the case and the file; in a
cohort the other cases still finish and the failure is recorded."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk
from RadiomicsWorkshopLib.features.extraction import extract_case
from RadiomicsWorkshopLib.io.errors import InputError

FAST = {"imageType": {"Original": {}}, "featureClass": {"firstorder": [], "glcm": [], "shape": []},
        "setting": {"binWidth": 25}}


def _write(image: sitk.Image, path) -> str:
    sitk.WriteImage(image, str(path))
    return str(path)


@pytest.fixture()
def breast(sample_case):
    image, mask = sample_case("breast1")
    return sitk.ReadImage(str(image)), sitk.ReadImage(str(mask)), image, mask


def _bad_cases(breast, tmp_path) -> dict[str, tuple[str, str, dict, str]]:
    """name -> (image file, mask file, extra extract_case kwargs, text the error must contain)."""
    image, mask, image_file, mask_file = breast
    cases = {}
    shifted = sitk.Image(mask)
    shifted.SetOrigin(tuple(o + 0.37 for o in mask.GetOrigin()))
    cases["geometry"] = (str(image_file), _write(shifted, tmp_path / "shifted_label.nrrd"), {},
                         "does not match the image")
    empty = sitk.Image(mask.GetSize(), mask.GetPixelID())
    empty.CopyInformation(mask)
    cases["empty"] = (str(image_file), _write(empty, tmp_path / "empty_label.nrrd"), {}, "mask is empty")
    cases["label"] = (str(image_file), str(mask_file), {"rois": [3]}, "labels present: 1")
    nan_image = sitk.Cast(image, sitk.sitkFloat32)
    array = sitk.GetArrayFromImage(nan_image)
    array[array.shape[0] // 2, 10, 10] = np.nan
    with_nan = sitk.GetImageFromArray(array)
    with_nan.CopyInformation(image)
    cases["nan"] = (_write(with_nan, tmp_path / "nan_image.nrrd"), str(mask_file), {}, "NaN")
    array[array.shape[0] // 2, 10, 10] = np.inf
    with_inf = sitk.GetImageFromArray(array)
    with_inf.CopyInformation(image)
    cases["inf"] = (_write(with_inf, tmp_path / "inf_image.nrrd"), str(mask_file), {}, "Inf")
    fractions = sitk.Cast(mask, sitk.sitkFloat32) * 0.5  # a probability-like mask: labels 0.5
    cases["float_mask"] = (str(image_file), _write(fractions, tmp_path / "float_label.nrrd"), {},
                           "mask holds non-integer values")
    cases["4d_image"] = (_write(sitk.JoinSeries([image, image]), tmp_path / "two_volumes_image.nrrd"),
                         str(mask_file), {}, "image is 4D: 2 volumes")
    cases["missing"] = (str(tmp_path / "no_such_image.nrrd"), str(mask_file), {}, "not found")
    corrupt = tmp_path / "corrupt_image.nrrd"
    corrupt.write_bytes(open(image_file, "rb").read()[:400])
    cases["corrupt"] = (str(corrupt), str(mask_file), {}, "cannot be read")
    one = sitk.Image(mask.GetSize(), mask.GetPixelID())
    one.CopyInformation(mask)
    one[10, 60, 10] = 1
    cases["one_voxel"] = (str(image_file), _write(one, tmp_path / "one_voxel_label.nrrd"), {}, "1 voxel")
    slice_index = int(np.nonzero(sitk.GetArrayViewFromImage(mask).any(axis=(1, 2)))[0][0])
    cases["2d_with_3d_preset"] = (_write(image[:, :, slice_index], tmp_path / "slice_image.nrrd"),
                                  _write(mask[:, :, slice_index], tmp_path / "slice_label.nrrd"),
                                  {"preset": "MR"}, "MR_2D")
    return cases


@pytest.mark.parametrize("name", ["geometry", "empty", "label", "nan", "inf", "missing", "corrupt", "one_voxel",
                                  "2d_with_3d_preset", "float_mask", "4d_image"])
def test_bad_input_names_case_file_and_fix(name, breast, tmp_path):
    image, mask, kwargs, expected = _bad_cases(breast, tmp_path)[name]
    kwargs = dict(kwargs)
    if "preset" not in kwargs:
        kwargs["params"] = FAST
    with pytest.raises(InputError) as caught:
        extract_case(image, mask, case_id=f"case-{name}", **kwargs)
    error = caught.value
    text = str(error)
    assert expected in text
    assert f"case 'case-{name}'" in text
    assert error.file and error.file in text
    assert error.file in (image, mask)
    assert error.hint, "every error says what to do"


def test_geometry_mismatch_can_be_resampled_on_request(breast, tmp_path):
    image, mask, *_ = _bad_cases(breast, tmp_path)["geometry"]
    table = extract_case(image, mask, params=FAST, resample_mask=True)
    # the mask taken onto the image's grid by nearest neighbour: its voxels, at the image's voxel size
    reference = sitk.ReadImage(image)
    onto = sitk.Resample(sitk.ReadImage(mask), reference, sitk.Transform(), sitk.sitkNearestNeighbor, 0)
    voxels = int(np.count_nonzero(sitk.GetArrayViewFromImage(onto) == 1))
    assert len(table) == 1 and voxels > 0
    assert table["original_shape_VoxelVolume"].iloc[0] == pytest.approx(voxels * np.prod(reference.GetSpacing()))


def test_label_error_lists_labels_present(sample_case):
    image, mask = sample_case("brain2")
    with pytest.raises(InputError, match=r"label 7 not in the mask; labels present: 1"):
        extract_case(image, mask, params=FAST, rois=[7], case_id="brain2")


def test_2d_image_works_with_2d_preset(breast, tmp_path):
    image, mask, _, _ = _bad_cases(breast, tmp_path)["2d_with_3d_preset"]
    table = extract_case(image, mask, preset="MR_2D", case_id="slice")
    assert len(table) == 1
    pixels = int(np.count_nonzero(sitk.GetArrayViewFromImage(sitk.ReadImage(mask)) == 1))
    assert pixels > 0
    assert table["original_shape2D_PixelSurface"].iloc[0] == pytest.approx(
        pixels * np.prod(sitk.ReadImage(image).GetSpacing()))


def test_cohort_records_every_bad_case_and_finishes_the_others(breast, tmp_path, sample_case):
    cases = _bad_cases(breast, tmp_path)
    good_image, good_mask = sample_case("breast1")
    lines = ["case_id,image,mask,roi"]
    lines += [f"good-{i},{good_image},{good_mask}," for i in range(2)]
    for name, (image, mask, kwargs, _) in cases.items():
        roi = ";".join(map(str, kwargs.get("rois", [])))
        lines.append(f"bad-{name},{image},{mask},{roi}")
    manifest = tmp_path / "manifest.csv"
    manifest.write_text("\n".join(lines) + "\n")
    params = tmp_path / "fast.yaml"
    params.write_text("imageType: {Original: {}}\nfeatureClass: {firstorder: [], shape: []}\n"
                      "setting: {binWidth: 25}\n")
    out = tmp_path / "features.csv"
    done = subprocess.run([sys.executable, "-m", "RadiomicsWorkshopLib", "extract", "--manifest", str(manifest),
                           "--params", str(params), "--out", str(out), "--jobs", "2", "--progress", "none"],
                          capture_output=True, text=True)
    assert done.returncode == 1, done.stderr
    table = pd.read_csv(out)
    assert sorted(table["case_id"]) == ["good-0", "good-1"]
    failures = pd.read_csv(out.with_name("features.failures.csv"))
    assert sorted(failures["case_id"]) == sorted(f"bad-{n}" for n in cases)
    for name, (_, _, _, expected) in cases.items():
        message = failures.loc[failures["case_id"] == f"bad-{name}", "message"].iloc[0]
        expected = "image is 2D" if name == "2d_with_3d_preset" else expected  # the MR_2D advice is in the hint
        assert expected in message, (name, message)
    assert failures["file"].notna().all() and failures["hint"].notna().all()
    assert "FAILED bad-missing" in done.stderr


def test_every_command_has_help():
    """Each step's --help formats (argparse %-expands help texts: a stray % breaks only that page)."""
    import subprocess
    import sys

    from RadiomicsWorkshopLib.cli import build_parser

    parser = build_parser()
    steps = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction").choices
    for step, sub in steps.items():
        assert sub.format_help(), step
    done = subprocess.run([sys.executable, "-m", "RadiomicsWorkshopLib", "--help"], capture_output=True, text=True)
    assert done.returncode == 0 and all(step in done.stdout for step in steps)
