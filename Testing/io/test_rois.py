"""Several ROIs per case (labels of a label map, segments of a Slicer
segmentation) and slice-wise 2D extraction, on the PyRadiomics sample cases."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk
import slicerio
from RadiomicsWorkshopLib.features.extraction import extract_case
from RadiomicsWorkshopLib.io.errors import InputError

PARAMS = {"imageType": {"Original": {}}, "featureClass": {"shape": [], "firstorder": [], "glcm": [], "glszm": []},
          "setting": {"binWidth": 25}}


def _features(table, row=0):
    return table.drop(columns=[c for c in ("case_id", "roi", "patient_id", "slice") if c in table]).iloc[row]


def _assert_same(a, b):
    assert list(a.index) == list(b.index)
    np.testing.assert_allclose(a.to_numpy(float), b.to_numpy(float), rtol=1e-10, atol=1e-12)


def _label_image(array: np.ndarray, like: sitk.Image) -> sitk.Image:
    image = sitk.GetImageFromArray(array.astype(np.uint8))
    image.CopyInformation(like)
    return image


def _ijk_to_lps(image: sitk.Image, offset=(0, 0, 0)) -> np.ndarray:
    matrix = np.eye(4)
    direction = np.array(image.GetDirection()).reshape(3, 3)
    matrix[:3, :3] = direction * np.array(image.GetSpacing())
    matrix[:3, 3] = image.TransformIndexToPhysicalPoint(tuple(int(o) for o in offset))
    return matrix


@pytest.fixture(scope="module")
def brain1(sample_case):
    image_file, mask_file = sample_case("brain1")
    mask = sitk.ReadImage(str(mask_file))
    roi = sitk.GetArrayFromImage(mask) == 1
    x = np.nonzero(roi)[2]
    left = roi & (np.arange(roi.shape[2])[None, None, :] < np.median(x))
    right = roi & ~left
    core = sitk.GetArrayFromImage(sitk.BinaryErode(sitk.Cast(mask, sitk.sitkUInt8), [2, 2, 0])) == 1
    return {"image": sitk.ReadImage(str(image_file)), "image_file": image_file, "mask": mask,
            "roi": roi, "left": left, "right": right, "core": core}


def test_label_map_gives_one_row_per_label(brain1, tmp_path):
    both = brain1["left"].astype(np.uint8) + 2 * brain1["right"].astype(np.uint8)
    path = tmp_path / "halves.nrrd"
    sitk.WriteImage(_label_image(both, brain1["mask"]), str(path))
    table = extract_case(brain1["image_file"], path, params=PARAMS, case_id="brain1")
    assert list(table["roi"]) == ["1", "2"]
    assert list(table["case_id"]) == ["brain1", "brain1"]
    for row, half in enumerate(["left", "right"]):
        alone = extract_case(brain1["image"], _label_image(brain1[half], brain1["mask"]), params=PARAMS)
        _assert_same(_features(table, row), _features(alone))
    only_two = extract_case(brain1["image_file"], path, params=PARAMS, rois=["2"])
    assert list(only_two["roi"]) == ["2"]


def _write_segmentation(path, brain1, segments, offset=(0, 0, 0), size=None):
    """A Slicer segmentation (.seg.nrrd) with overlapping segments (two layers)."""
    shape = size or brain1["image"].GetSize()
    segmentation = slicerio.create_segmentation(shape, _ijk_to_lps(brain1["image"], offset))
    for name, array in segments:
        kji = array[offset[2]:offset[2] + shape[2], offset[1]:offset[1] + shape[1], offset[0]:offset[0] + shape[0]]
        slicerio.add_segment(segmentation, kji.transpose(2, 1, 0), {"name": name})
    slicerio.write_segmentation(str(path), segmentation)
    return segmentation


def test_segmentation_segments_by_name_with_overlap(brain1, tmp_path):
    path = tmp_path / "brain1.seg.nrrd"
    seg = _write_segmentation(path, brain1, [("Tumor", brain1["roi"]), ("Core", brain1["core"]),
                                             ("Left", brain1["left"])])
    assert seg["voxels"].ndim == 4, "overlapping segments are stored in layers, as Slicer does"
    table = extract_case(brain1["image_file"], path, params=PARAMS, rois=["Tumor", "Core"], case_id="b1")
    assert list(table["roi"]) == ["Tumor", "Core"]
    for row, key in enumerate(["roi", "core"]):
        alone = extract_case(brain1["image"], _label_image(brain1[key], brain1["mask"]), params=PARAMS)
        _assert_same(_features(table, row), _features(alone))
    everything = extract_case(brain1["image_file"], path, params=PARAMS)
    assert list(everything["roi"]) == ["Tumor", "Core", "Left"]
    with pytest.raises(InputError, match="segment 'Edema' not in the segmentation; segments present: "
                                         "Tumor, Core, Left"):
        extract_case(brain1["image_file"], path, params=PARAMS, rois=["Edema"], case_id="b1")


def test_segmentation_saved_with_reduced_extent(brain1, tmp_path):
    """Slicer may save a segmentation cropped to its extent: it maps onto the image losslessly."""
    k, j, i = np.nonzero(brain1["roi"])
    offset = (int(i.min()) - 2, int(j.min()) - 2, int(k.min()))
    size = (int(i.max()) - offset[0] + 3, int(j.max()) - offset[1] + 3, int(k.max()) - offset[2] + 1)
    path = tmp_path / "cropped.seg.nrrd"
    _write_segmentation(path, brain1, [("Tumor", brain1["roi"])], offset=offset, size=size)
    assert sitk.ReadImage(str(path)).GetSize() == size
    table = extract_case(brain1["image_file"], path, params=PARAMS)
    full = extract_case(brain1["image"], brain1["mask"], params=PARAMS)
    _assert_same(_features(table), _features(full))


def test_slicewise_gives_one_row_per_slice(sample_case, brain1):
    image_file, mask_file = sample_case("brain1")
    table = extract_case(image_file, mask_file, preset="MR_2D", case_id="brain1", patient_id="P001")
    per_slice = brain1["roi"].sum(axis=(1, 2))
    slices = [int(k) for k in np.nonzero(per_slice)[0]]
    assert list(table["slice"]) == slices
    assert set(table["patient_id"]) == {"P001"} and set(table["roi"]) == {"1"}
    spacing = brain1["image"].GetSpacing()
    # Ground truth independent of PyRadiomics: pixel surface = ROI pixels x pixel area.
    expected = per_slice[slices] * spacing[0] * spacing[1]
    np.testing.assert_allclose(table["original_shape2D_PixelSurface"], expected, rtol=1e-12)
    assert table.filter(like="wavelet-").shape[1] > 0
    assert table.drop(columns=["case_id", "roi", "patient_id"]).dtypes.map(lambda d: d.kind in "fi").all()
