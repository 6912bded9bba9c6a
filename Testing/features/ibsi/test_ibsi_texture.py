"""PyRadiomics' texture classes in the IBSI convention (``workshop: convention: ibsi``; features/ibsi/texture.py
and the glcm, glrlm, glszm, ngtdm modules): every aggregation against the IBSI digital phantom's reference
values, the whole IBSI preset in that convention (482 / 482), PyRadiomics' own values where the two
conventions define the same numbers, hand-made runs, zones and neighbourhoods, and the settings the
convention refuses.
"""

from __future__ import annotations

import functools
import json

import numpy as np
import pandas as pd
import pytest
from ibsitools import misses, phantom_arrays, reference_rows
from RadiomicsWorkshopLib.features.extraction import extract_case
from RadiomicsWorkshopLib.features.ibsi import glcm, glrlm, glszm, ngtdm
from RadiomicsWorkshopLib.features.ibsi import reference as ibsi
from RadiomicsWorkshopLib.features.ibsi.aggregation import DIRECTIONAL
from RadiomicsWorkshopLib.features.ibsi.texture import texture_columns
from RadiomicsWorkshopLib.features.presets import load_params
from RadiomicsWorkshopLib.io.errors import SettingsError

FAMILIES = {  # IBSI family -> (module's function, reference rows)
    "Grey level co-occurrence based features": (glcm.glcm_by_aggregation, 150),
    "Grey level run length based features": (glrlm.glrlm_by_aggregation, 96),
    "Grey level size zone based features": (glszm.glszm_by_aggregation, 48),
    "Neighbourhood grey tone difference based features": (ngtdm.ngtdm_by_aggregation, 15),
}
OURS = {"firstorder": [], "glcm": [], "glrlm": [], "glszm": [], "gldm": [], "ngtdm": []}


@functools.cache
def _columns() -> pd.Series:
    return ibsi.load_feature_map().set_index(ibsi.KEY)["column"]


def _our_name(row) -> str:
    """The feature's name in our modules (PyRadiomics'), from the feature map's column for the row."""
    return _columns().loc[tuple(getattr(row, k) for k in ibsi.KEY)].split("_", 2)[2]


@pytest.mark.parametrize("family", FAMILIES)
def test_every_aggregation_reproduces_the_digital_phantom(family):
    compute, expected_rows = FAMILIES[family]
    values, mask, _ = phantom_arrays()
    levels = np.where(mask, values.astype(int), 0)
    rows = reference_rows(lambda r: r["family"] == family)
    assert len(rows) == expected_rows
    ours = compute(levels, 6, tuple(rows["aggregation"].unique()))
    assert not misses(rows, lambda row: ours[row.aggregation][_our_name(row)])


def test_the_ibsi_preset_in_the_ibsi_convention_reproduces_all_482_values():
    """PyRadiomics computes only shape and first order here; every texture value is ours."""
    params = load_params(params={"workshop": {"extends": "IBSI", "convention": "ibsi"}})
    assert params.convention == "ibsi" and "convention" in params.to_dict()
    nifti = ibsi.default_reference_dir() / "digital_phantom" / "nifti"
    row = extract_case(nifti / "image" / "phantom.nii.gz", nifti / "mask" / "mask.nii.gz", params=params).iloc[0]
    compared = ibsi.compare_to_reference(row, reference=ibsi.load_reference())
    assert len(compared) == 482 and compared["reproduced"].all(), compared[~compared["reproduced"]].to_string()


@pytest.mark.parametrize("case", ["brain1", "breast1"])
def test_first_order_and_texture_equal_pyradiomics_where_the_conventions_agree(case, sample_case):
    """With a fixed bin number both conventions bin alike, and PyRadiomics' main extraction is the IBSI's
    3D, averaged (GLCM, GLRLM) and 3D (the others): all 18 first-order and 75 texture features the same,
    within 1e-6 (a voxel shift, for energy)."""
    image, mask = sample_case(case)
    settings = {"imageType": {"Original": {}}, "featureClass": OURS, "setting": {"binCount": 32, "voxelArrayShift": 7}}
    theirs = extract_case(image, mask, params=settings).iloc[0]
    ours = extract_case(image, mask, params={**settings, "workshop": {"convention": "ibsi"}}).iloc[0]
    columns = [c for c in theirs.index if c.startswith("original_")]
    assert len(columns) == 18 + 75 and set(columns) <= set(ours.index)
    off = {c: (theirs[c], ours[c]) for c in columns if not np.isclose(ours[c], theirs[c], rtol=1e-6, atol=1e-12)}
    assert not off, off


def _runs(levels: np.ndarray, direction: tuple[int, int, int]) -> list[tuple[int, int]]:
    """(grey level, length) of every run along ``direction``, read from its run length matrix."""
    matrix = glrlm.run_length_matrices(levels, int(levels.max()), [direction], by_slice=False)[0, 0]
    return sorted((int(i) + 1, int(j) + 1) for i, j in zip(*np.nonzero(matrix)) for _ in range(int(matrix[i, j])))


def test_runs_along_each_direction_of_a_hand_made_roi():
    # one slice: a row of three 1s and a 2; the 2 has a diagonal neighbour 2 below-right
    levels = np.array([[[1, 1, 1, 2, 0], [0, 0, 0, 0, 2]]])
    assert _runs(levels, (0, 0, 1)) == [(1, 3), (2, 1), (2, 1)]  # along x
    assert _runs(levels, (0, 1, 1)) == [(1, 1), (1, 1), (1, 1), (2, 2)]  # the diagonal: the two 2s are one run
    assert _runs(levels, (0, 1, -1)) == [(1, 1), (1, 1), (1, 1), (2, 1), (2, 1)]
    # a run ends at the edge of a line: lines of the same direction never join
    levels = np.ones((1, 2, 3), dtype=int)
    assert _runs(levels, (0, 0, 1)) == [(1, 3), (1, 3)]
    matrices = glrlm.run_length_matrices(levels, 1)
    assert matrices.shape == (13, 1, 1, 3) and matrices[0, 0, 0].tolist() == [0, 0, 2]
    # runs across slices count in the slice of their first voxel
    levels = np.ones((3, 1, 1), dtype=int)
    by_slice = glrlm.run_length_matrices(levels, 1, [(1, 0, 0)])
    assert by_slice[0, :, 0, 2].tolist() == [1, 0, 0]


def test_zones_and_neighbourhoods_of_a_hand_made_roi():
    # two slices; a 1 in each, touching across the slices only
    levels = np.zeros((2, 2, 2), dtype=int)
    levels[0, 0, 0] = levels[1, 1, 1] = 1
    levels[0, 1, 1] = 2
    per_slice = glszm.zone_matrices(levels, 2, in_plane=True)
    assert per_slice[0].tolist() == [[1], [1]] and per_slice[1].tolist() == [[1], [0]]
    assert glszm.zone_matrices(levels, 2, in_plane=False).tolist() == [[0, 1], [1, 0]]  # one 3D zone of two 1s
    # NGTDM of slice 0: the 1 and the 2 are each other's only neighbour: s_1 = s_2 = 1, n_1 = n_2 = 1
    in_plane = ngtdm.ngtdm_matrices(levels, 2, in_plane=True)
    assert in_plane[0].tolist() == [[1, 1], [1, 1]]
    assert in_plane[1].tolist() == [[0, 0], [0, 0]]  # slice 1's voxel has no neighbour in its slice: left out
    # PyRadiomics' convention counts that voxel in n_i all the same (its s_i is 0 either way)
    assert ngtdm.ngtdm_matrices(levels, 2, in_plane=True, every_voxel=True)[1].tolist() == [[1, 0], [0, 0]]
    features = ngtdm.features_from_matrix(np.array([[1.0, 1.0], [1.0, 1.0]]))
    assert np.isclose(features["Coarseness"], 1.0) and np.isclose(features["Strength"], 2 * 1 / 2)
    # GLCM: the pair (1, 2) along the diagonal, counted both ways; no other pair in the slice
    matrices = glcm.cooccurrence(levels, 2)
    assert matrices[2, 0].tolist() == [[0, 1], [1, 0]] and matrices[[0, 1, 3], 0].sum() == 0


def test_texture_columns_follow_the_presets_aggregations():
    values, mask, _ = phantom_arrays()
    levels = np.where(mask, values.astype(int), 0)
    columns = texture_columns(levels, 6, {
        "original": {"setting": {}, "per_slice": False, "featureClass": {"glcm": ["Contrast"], "ngtdm": []}},
        "original-2D-slice-merged": {"setting": {"force2D": True, "weightingNorm": "no_weighting"},
                                     "per_slice": True, "featureClass": {"glrlm": []}}})
    assert set(columns) == {"original_glcm_Contrast", *(f"original_ngtdm_{n}" for n in ngtdm.FEATURES),
                            *(f"original-2D-slice-merged_glrlm_{n}" for n in glrlm.FEATURES)}
    expected = glrlm.glrlm_by_aggregation(levels, 6, ("2D, slice-merged",))["2D, slice-merged"]
    assert columns["original-2D-slice-merged_glrlm_RunPercentage"] == expected["RunPercentage"]
    assert len(DIRECTIONAL) == 6


def test_the_ibsi_convention_refuses_filtered_image_types():
    with pytest.raises(SettingsError, match="computes the original image only, not LoG"):
        load_params(params={"imageType": {"Original": {}, "LoG": {"sigma": [1.0]}},
                            "workshop": {"convention": "ibsi"}})


@pytest.mark.parametrize("setting, message", [
    ({"distances": [1, 2]}, "distances: [1, 2]"),
    ({"symmetricalGLCM": False}, "symmetricalGLCM: false"),
    ({"weightingNorm": "manhattan"}, "weightingNorm: manhattan"),
])
def test_settings_the_ibsi_convention_has_no_meaning_for_are_refused(setting, message, tmp_path):
    preset = tmp_path / "mine.yaml"
    preset.write_text(json.dumps({"workshop": {"extends": "IBSI", "convention": "ibsi"}, "setting": setting}))
    with pytest.raises(SettingsError) as error:
        load_params(params_file=preset)
    assert message in str(error.value) and "mine.yaml" in str(error.value)
