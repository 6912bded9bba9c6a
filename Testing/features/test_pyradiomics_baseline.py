"""Our extraction reproduces PyRadiomics' own baseline values (data/baseline), with either engine.

For every sample case and every baseline configuration (the plain case, 2D,
fixed bin number, normalisation, resampling, resegmentation, ...), the
settings recorded in the baseline are run through ``extract_case`` -- the
path the CLI and Slicer use, including the ROI crop -- by our engine
(``features/engine``) and by PyRadiomics, and every baseline value must agree
to 1e-6 relative.
"""

from __future__ import annotations

import ast
from functools import lru_cache

import pandas as pd
import pytest
from conftest import SAMPLE_CASES, sample_data_dir
from RadiomicsWorkshopLib.features.extraction import extract_case

REL_TOL = 1e-6
ABS_FLOOR = 1e-12  # for reference values that are exactly 0

# The one place where PyRadiomics 3.0.1 itself does not reproduce its own
# baseline to 1e-6: brain1's mesh-based shape values were recorded with
# PyRadiomics 2.0.1b1 (see diagnostics_Versions_PyRadiomics in
# baseline_shape.csv) and today's marching-cubes mesh differs from them by
# 1e-4..9e-4 relative (PyRadiomics' own tests accept 3%). For these the test
# checks that we equal PyRadiomics 3.0.1 called directly, that the baseline is
# within 1e-3, and that the deviation is still there (so this list stays true).
BRAIN1_MESH = "baseline made by PyRadiomics 2.0.1b1; PyRadiomics 3.0.1's mesh differs"
KNOWN_DEVIATIONS = {
    ("brain1", "original_shape_MeshVolume"): BRAIN1_MESH,
    ("brain1", "original_shape_SurfaceArea"): BRAIN1_MESH,
    ("brain1", "original_shape_SurfaceVolumeRatio"): BRAIN1_MESH,
    ("brain1", "original_shape_Sphericity"): BRAIN1_MESH,
}


@lru_cache(maxsize=1)
def baselines() -> dict[str, pd.DataFrame]:
    folder = sample_data_dir() / "baseline"
    return {path.stem.replace("baseline_", ""): pd.read_csv(path, index_col=0)
            for path in sorted(folder.glob("baseline_*.csv"))}


def configurations() -> list[tuple[str, str]]:
    """(case, configuration) pairs, e.g. ("brain1", "brain1_FBN")."""
    configs = set()
    for frame in baselines().values():
        for column in frame.columns:
            case = frame.loc["diagnostics_Configuration_TestCase", column]
            configs.add((case, column))
    return sorted(configs)


def _settings(frame: pd.DataFrame, config: str) -> tuple[dict, dict]:
    settings = ast.literal_eval(frame.loc["diagnostics_Configuration_Settings", config])
    image_types = ast.literal_eval(frame.loc["diagnostics_Configuration_EnabledImageTypes", config])
    settings = {k: v for k, v in settings.items() if v is not None and k != "additionalInfo"}
    return settings, image_types


def single_slice_mask(case: str, mask_path, config: str):
    """PyRadiomics' "<case>_2D" test masks are one slice of the 3D label.

    They are not in the source distribution (PyRadiomics downloads them), so
    the slice is found again by the mask hash the baseline records; a slice
    whose hash matches is the very mask PyRadiomics used.
    """
    import SimpleITK as sitk

    wanted = next(frame.loc["diagnostics_Mask-original_Hash", config] for frame in baselines().values()
                  if config in frame.columns)
    label = sitk.ReadImage(str(mask_path))
    for z in range(label.GetSize()[2]):
        candidate = label[:, :, z:z + 1]
        if sitk.Hash(sitk.Cast(candidate, sitk.sitkInt32)) == wanted:  # hashed as PyRadiomics loaded it
            return candidate
    pytest.fail(f"no slice of {mask_path} has the hash {wanted} recorded for {config}")


def test_every_sample_case_has_baselines():
    cases = {case.removesuffix("_2D") for case, _ in configurations()}
    assert cases == set(SAMPLE_CASES)
    assert len(configurations()) >= 5 * 9


@pytest.mark.parametrize("engine", ["ours", "pyradiomics"])
@pytest.mark.parametrize("case,config", configurations())
def test_matches_pyradiomics_baseline(case, config, engine, sample_case):
    # Group the feature classes of this configuration by identical settings.
    groups: dict[str, tuple[dict, dict, list[str]]] = {}
    for cls, frame in baselines().items():
        if config not in frame.columns:
            continue
        settings, image_types = _settings(frame, config)
        key = repr((sorted(settings.items()), sorted(image_types)))
        groups.setdefault(key, (settings, image_types, []))[2].append(cls)
    assert groups, f"no baseline for {config}"
    image, mask = sample_case(case.removesuffix("_2D"))
    if case.endswith("_2D"):
        mask = single_slice_mask(case, mask, config)
    compared = 0
    for settings, image_types, classes in groups.values():
        params = {"imageType": image_types, "featureClass": {cls: [] for cls in classes}, "setting": settings}
        row = extract_case(image, mask, params={**params, "workshop": {"engine": engine}}, case_id=config).iloc[0]
        for cls in classes:
            frame = baselines()[cls]
            expected = frame[config].drop(index=[i for i in frame.index if i.startswith("diagnostics_")]).dropna()
            for feature, ref in expected.items():
                assert feature in row.index, f"{config}: {feature} missing from our table"
                ours, ref = float(row[feature]), float(ref)
                deviation = abs(ours - ref)
                if (config, feature) in KNOWN_DEVIATIONS:
                    direct = _pyradiomics_direct(image, mask, params)[feature]
                    assert abs(ours - direct) <= 1e-9 * abs(direct), f"{config}: {feature} differs from PyRadiomics"
                    assert REL_TOL * abs(ref) < deviation < 1e-3 * abs(ref), (
                        f"{config}: {feature} known deviation changed: {ours!r} vs {ref!r}; update KNOWN_DEVIATIONS")
                else:
                    assert deviation <= REL_TOL * abs(ref) + ABS_FLOOR, (
                        f"{config}: {feature} = {ours!r}, PyRadiomics baseline {ref!r}")
                compared += 1
    assert compared > 0


def _pyradiomics_direct(image, mask, params) -> dict:
    from radiomics import featureextractor

    result = featureextractor.RadiomicsFeatureExtractor(params).execute(str(image), str(mask))
    return {k: float(v) for k, v in result.items() if not k.startswith("diagnostics_")}
