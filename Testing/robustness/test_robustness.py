"""Feature robustness (``robustness/``, ``batch/robustness``, ``radiomics-workshop robustness``): the
perturbations do what they say, the agreement statistics are right on planted data (a deterministic
feature, pure noise, a simulation of the CIs' coverage), and on generated phantoms shape is robust to image
noise and not to contour changes, through the batch step a cohort runs on."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk
from clitools import cli
from RadiomicsWorkshopLib.features.presets import params_from_dict
from RadiomicsWorkshopLib.io.manifest import Case
from RadiomicsWorkshopLib.robustness.agreement import agreement_table, concordance
from RadiomicsWorkshopLib.robustness.perturbations import (Perturbation, adapted, noise_level, perturb,
                                                           perturbation_set)


def _phantom(radius_mm: float, seed: int, size: int = 48, spacing: float = 1.5) -> tuple[sitk.Image, sitk.Image]:
    """A textured sphere of ``radius_mm`` in noise (a CT-like image, its mask as label 1)."""
    rng = np.random.default_rng(seed)
    grid = (np.indices((size,) * 3) - (size - 1) / 2.0) * spacing
    radius = np.sqrt((grid ** 2).sum(axis=0))
    inside = radius <= radius_mm
    array = np.where(inside, 60.0 + 20 * np.sin(grid[2] / 3.0) + 10 * seed, -50.0) + rng.normal(0, 8, inside.shape)
    image, mask = sitk.GetImageFromArray(array), sitk.GetImageFromArray(inside.astype(np.uint8))
    for each in (image, mask):
        each.SetSpacing((spacing,) * 3)
        each.SetOrigin((10.0, -5.0, 3.0))
    return image, mask


def _write(tmp_path, n: int = 6) -> list[Case]:
    cases = []
    for k in range(n):
        image, mask = _phantom(8.0 + 2.5 * k, k)
        paths = tmp_path / f"c{k}_image.nii.gz", tmp_path / f"c{k}_mask.nii.gz"
        sitk.WriteImage(image, str(paths[0]))
        sitk.WriteImage(mask, str(paths[1]))
        cases.append(Case(f"c{k}", *paths))
    return cases


def test_the_identity_changes_nothing_and_a_seed_repeats():
    image, mask = _phantom(10.0, 0)
    same_image, same_mask = perturb(image, mask, Perturbation())
    np.testing.assert_array_equal(sitk.GetArrayFromImage(same_image), sitk.GetArrayFromImage(image))
    np.testing.assert_array_equal(sitk.GetArrayFromImage(same_mask), sitk.GetArrayFromImage(mask))
    chosen = perturbation_set("RNTVC", 5, seed=3)
    assert chosen == perturbation_set("RNTVC", 5, seed=3) and chosen != perturbation_set("RNTVC", 5, seed=4)
    first, again = (perturb(image, mask, chosen[1]) for _ in range(2))
    np.testing.assert_array_equal(sitk.GetArrayFromImage(first[0]), sitk.GetArrayFromImage(again[0]))
    np.testing.assert_array_equal(sitk.GetArrayFromImage(first[1]), sitk.GetArrayFromImage(again[1]))


def test_noise_level_and_added_noise():
    rng = np.random.default_rng(1)
    flat = sitk.GetImageFromArray(rng.normal(100.0, 7.0, (40, 40, 40)))
    assert noise_level(flat) == pytest.approx(7.0, rel=0.05)
    image, mask = _phantom(10.0, 0)
    noisy, same = perturb(image, mask, Perturbation(noise=True, seed=5))
    added = sitk.GetArrayFromImage(noisy) - sitk.GetArrayFromImage(image)
    assert added.std() == pytest.approx(noise_level(image), rel=0.02)
    np.testing.assert_array_equal(sitk.GetArrayFromImage(same), sitk.GetArrayFromImage(mask))


def test_volume_adaptation_reaches_its_fraction_and_distance():
    image, mask = _phantom(12.0, 0)
    roi = sitk.GetArrayFromImage(mask) > 0
    for fraction in (-0.2, 0.1, 0.2):
        assert adapted(roi, (1.5,) * 3, volume=fraction).sum() == round(roi.sum() * (1 + fraction))
    grown = adapted(roi, (1.5,) * 3, grow_mm=3.0)
    radius = ((3 * grown.sum() * 1.5 ** 3) / (4 * np.pi)) ** (1 / 3)  # the grown sphere's radius, mm
    assert radius == pytest.approx(12.0 + 3.0, abs=0.8)
    assert (grown >= roi).all()


def test_rotation_and_translation_move_image_and_roi_together():
    image, mask = _phantom(10.0, 2)
    moved_image, moved_mask = perturb(image, mask, Perturbation(angle=15.0, shift=(0.5, 0.25, 0.0)))
    before, after = sitk.GetArrayFromImage(mask) > 0, sitk.GetArrayFromImage(moved_mask) > 0
    assert after.sum() == pytest.approx(before.sum(), rel=0.03) and not np.array_equal(before, after)
    inside = sitk.GetArrayFromImage(moved_image)[after]
    assert inside.mean() == pytest.approx(sitk.GetArrayFromImage(image)[before].mean(), rel=0.05)


def test_contour_randomisation_keeps_the_interior_and_varies_the_border():
    image, mask = _phantom(12.0, 0)
    roi = sitk.GetArrayFromImage(mask) > 0
    found = [sitk.GetArrayFromImage(perturb(image, mask, Perturbation(randomise=True, seed=s))[1]) > 0
             for s in range(3)]
    for other in found:
        dice = 2 * (roi & other).sum() / (roi.sum() + other.sum())
        assert 0.75 < dice < 1.0
    assert not np.array_equal(found[0], found[1])


def test_agreement_on_planted_features():
    rng = np.random.default_rng(0)
    subjects, raters = 15, 8
    truth = rng.normal(0.0, 1.0, subjects)
    rows = pd.DataFrame([{"case_id": f"s{i}", "roi": "1", "perturbation": f"p{j}",
                          "original_firstorder_Exact": 3 * truth[i] + 1, "original_firstorder_Noise": rng.normal(),
                          "original_shape_Half": truth[i] + rng.normal(0.0, 1.0)}
                         for i in range(subjects) for j in range(raters)])
    table = agreement_table(rows, ["original_firstorder_Exact", "original_firstorder_Noise", "original_shape_Half"],
                            rater="perturbation").set_index("feature")
    for icc in ("icc1", "icc2", "icc3", "ccc"):
        assert table.loc["original_firstorder_Exact", icc] >= 0.99
        assert abs(table.loc["original_firstorder_Noise", icc]) < 0.15
    assert 0.2 < table.loc["original_shape_Half", "icc1"] < 0.8  # true ICC 0.5
    assert table.loc["original_shape_Half", "family"] == "shape"


@pytest.mark.slow
def test_the_icc_interval_covers_the_truth_about_95_percent():
    """One-way random effects with ICC 0.6, 200 simulated studies of 20 subjects x 4 raters: the 95% CI of
    ICC(1,1) covers 0.6 in 88-99% of them (pingouin rounds the bounds to 2 decimals)."""
    rng = np.random.default_rng(7)
    covered, runs = 0, 200
    for _ in range(runs):
        subject = rng.normal(0.0, np.sqrt(0.6), 20)
        values = subject[:, None] + rng.normal(0.0, np.sqrt(0.4), (20, 4))
        rows = pd.DataFrame([{"case_id": f"s{i}", "perturbation": f"r{j}", "original_firstorder_X": values[i, j]}
                             for i in range(20) for j in range(4)])
        row = agreement_table(rows, ["original_firstorder_X"], rater="perturbation").iloc[0]
        covered += row["icc1_low"] <= 0.6 <= row["icc1_high"]
    assert 0.88 <= covered / runs <= 0.99, covered / runs


def test_concordance_of_identical_and_shifted_raters():
    x = np.random.default_rng(3).normal(size=(30, 1))
    assert concordance(np.hstack([x, x, x])) == pytest.approx(1.0)
    variance = x.var()
    # a bias of 1 lowers concordance, not correlation: Lin's 2 s^2 / (2 s^2 + 1)
    assert concordance(np.hstack([x, x + 1.0])) == pytest.approx(2 * variance / (2 * variance + 1.0))


@pytest.mark.slow
def test_shape_is_robust_to_noise_and_not_to_contour_changes(tmp_path):
    from RadiomicsWorkshopLib.batch.robustness import run_perturbed
    from RadiomicsWorkshopLib.io.tables import read_table

    cases = _write(tmp_path)
    params = params_from_dict({"featureClass": {"shape": ["Sphericity", "VoxelVolume", "SurfaceArea"]},
                               "setting": {"binWidth": 25}})
    found = {}
    for letters in ("N", "VC"):
        out = tmp_path / f"{letters}.csv"
        summary = run_perturbed(cases, params, perturbation_set(letters, 4, seed=1), out, jobs=2)
        assert not summary.failed and summary.done == len(cases) * 4
        rows = read_table(out)
        assert len(rows) == len(cases) * 4 and set(rows["perturbation"]) == {"p000", "p001", "p002", "p003"}
        features = [c for c in rows.columns if c.startswith("original_shape_")]
        found[letters] = agreement_table(rows, features, rater="perturbation").set_index("feature")
    assert (found["N"]["icc1"] >= 0.999).all(), found["N"]["icc1"]
    assert found["VC"].loc["original_shape_Sphericity", "icc1"] < 0.9
    assert (found["VC"]["icc1"] < found["N"]["icc1"]).all()


def test_without_perturbation_every_feature_agrees_perfectly(tmp_path):
    """Two identity "perturbations" of each case: a feature is a deterministic function of image and ROI,
    so every ICC is 1 (features constant over the cases have none)."""
    from RadiomicsWorkshopLib.batch.robustness import run_perturbed
    from RadiomicsWorkshopLib.io.tables import read_table

    cases = _write(tmp_path, 4)
    params = params_from_dict({"featureClass": {"firstorder": [], "glcm": [], "shape": []}, "setting": {"binWidth": 25}})
    run_perturbed(cases, params, [Perturbation(index=0), Perturbation(index=1)], tmp_path / "same.csv")
    rows = read_table(tmp_path / "same.csv")
    features = [c for c in rows.columns if c.startswith("original_")]
    table = agreement_table(rows, features, rater="perturbation")
    assert table["icc1"].notna().sum() > 50 and (table["icc1"].dropna() >= 0.99).all()


@pytest.mark.slow
def test_the_command_writes_tables_figure_and_report_and_takes_repetitions(tmp_path):
    cases = _write(tmp_path, 4)
    manifest = tmp_path / "cases.csv"
    pd.DataFrame({"case_id": [c.case_id for c in cases], "image": [str(c.image) for c in cases],
                  "mask": [str(c.mask) for c in cases]}).to_csv(manifest, index=False)
    out = tmp_path / "robust"
    cli("robustness", "--manifest", manifest, "--params", _params(tmp_path), "--perturbations", "NT", "--count", "3",
        "--out", out, "--progress", "none")
    for name in ("features.csv", "icc.csv", "icc_by_family.csv", "icc.png", "robustness.md"):
        assert (out / name).is_file(), name
    assert "| firstorder |" in (out / "robustness.md").read_text()
    done = cli("robustness", "--manifest", manifest, "--params", _params(tmp_path), "--out", out,
               "--progress", "none", check=False)
    assert done.returncode != 0 and "output exists" in done.stderr
    # readers: two rows of each patient, the reader column as the repetition
    readers = tmp_path / "readers.csv"
    pd.DataFrame({"case_id": [f"{c.case_id}_{r}" for c in cases for r in "ab"],
                  "patient_id": [c.case_id for c in cases for _ in "ab"],
                  "image": [str(c.image) for c in cases for _ in "ab"], "mask": [str(c.mask) for c in cases for _ in "ab"],
                  "reader": [r for _ in cases for r in "ab"]}).to_csv(readers, index=False)
    cli("robustness", "--manifest", readers, "--params", _params(tmp_path), "--repeats", "reader",
        "--out", tmp_path / "readers", "--progress", "none")
    icc = pd.read_csv(tmp_path / "readers" / "icc.csv")
    assert (icc["subjects"] == 4).all() and (icc["raters"] == 2).all()
    assert (icc["icc1"].dropna() > 0.999).all()  # the same image and mask twice
    done = cli("robustness", "--manifest", manifest, "--params", _params(tmp_path), "--repeats", "reader",
               "--out", tmp_path / "nope", "--progress", "none", check=False)
    assert done.returncode != 0 and "manifest column 'reader' missing" in done.stderr, done.stderr


def _params(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text("featureClass: {firstorder: [Mean, Median, Variance], shape: [Sphericity]}\n"
                    "setting: {binWidth: 25}\n")
    return path
