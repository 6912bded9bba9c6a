"""Preprocessing on real data with a known answer (brain1 of PyRadiomics' sample
cases), and its bad inputs."""

from __future__ import annotations

import json
from functools import partial

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk
from clitools import cli as checked_cli
from RadiomicsWorkshopLib.io.errors import InputError, SettingsError
from RadiomicsWorkshopLib.preprocessing import filters as pp
from RadiomicsWorkshopLib.preprocessing.recipes import load_recipe

cli = partial(checked_cli, check=False)  # these tests read the exit status themselves


def bias_field_like(image: sitk.Image) -> np.ndarray:
    """A smooth multiplicative field, 0.68..1.44 over the head (a realistic surface-coil shading)."""
    z, y, x = np.meshgrid(*[np.linspace(-1, 1, n) for n in sitk.GetArrayViewFromImage(image).shape], indexing="ij")
    return np.exp(0.5 * (0.6 * x + 0.4 * y ** 2 - 0.3 * x * y + 0.2 * z))


def with_array(array: np.ndarray, like: sitk.Image) -> sitk.Image:
    image = sitk.GetImageFromArray(array.astype(np.float32))
    image.CopyInformation(like)
    return image


@pytest.fixture(scope="module")
def brain(sample_case):
    image_file, mask_file = sample_case("brain1")
    raw = sitk.Cast(sitk.ReadImage(str(image_file)), sitk.sitkFloat32)
    # brain1 carries its own strong shading; the "unbiased image" is brain1 with that removed by a
    # thorough N4 (4 levels to convergence 1e-6), so that the synthetic field is the only bias left. Fitted on
    # an 8-fold shrunk image (a smooth field needs no more): 11 s instead of 37 s for shrink 4, and the test
    # below sees the same (field correlation 0.981 against 0.976, CoV within 1.7% against 2.2%).
    clean = pp.n4_bias_correction(raw, shrink_factor=8, iterations=(50, 50, 50, 50), convergence=1e-6,
                                  spline_distance_mm=1e9).image
    field = bias_field_like(clean)
    head = sitk.GetArrayFromImage(pp.body_mask(clean)) > 0
    return {"raw": raw, "clean": clean, "field": field, "head": head, "mask": sitk.ReadImage(str(mask_file)),
            "biased": with_array(sitk.GetArrayFromImage(clean) * field, clean),
            "image_file": image_file, "mask_file": mask_file}


def cov(array, where):
    return float(array[where].std() / array[where].mean())


def test_n4_recovers_a_known_bias_field(brain):
    result = pp.n4_bias_correction(brain["biased"], return_bias_field=True)  # the defaults
    estimated = sitk.GetArrayFromImage(result.extra["bias_field"])
    head = brain["head"]
    r = np.corrcoef(estimated[head], brain["field"][head])[0, 1]
    assert r >= 0.95, f"estimated field correlates {r:.3f} with the true one"
    clean_cov = cov(sitk.GetArrayFromImage(brain["clean"]), head)
    biased_cov = cov(sitk.GetArrayFromImage(brain["biased"]), head)
    corrected_cov = cov(sitk.GetArrayFromImage(result.image), head)
    assert biased_cov > 1.1 * clean_cov, "the synthetic field must matter for this test to mean anything"
    assert abs(corrected_cov - clean_cov) <= 0.03 * clean_cov, (clean_cov, biased_cov, corrected_cov)  # README: 3%
    assert result.image.GetSize() == brain["biased"].GetSize() and result.info["shrink"][0] == 8


def _rician(clean: sitk.Image, seed=0) -> sitk.Image:
    array = sitk.GetArrayFromImage(clean)
    rng = np.random.default_rng(seed)
    sigma = 0.05 * array.max()
    noisy = np.sqrt((array + rng.normal(0, sigma, array.shape)) ** 2 + rng.normal(0, sigma, array.shape) ** 2)
    return with_array(noisy, clean)


def _psnr(image: sitk.Image, clean: sitk.Image) -> float:
    a, b = sitk.GetArrayFromImage(image), sitk.GetArrayFromImage(clean)
    return float(10 * np.log10(b.max() ** 2 / np.mean((a - b) ** 2)))


EDGE_LOSS_BOUND = 0.25  # the ROI border's mean gradient magnitude stays within 25% of the clean image's (README)


@pytest.mark.parametrize("method", ["curvature_anisotropic", "nl_means"])
def test_denoising_raises_psnr_and_keeps_roi_edges(brain, method):
    region = (slice(100, 230), slice(50, 180), slice(None))  # around the tumour, to keep the test fast
    clean, mask = brain["raw"][region], brain["mask"][region]
    noisy = _rician(clean)
    denoised = pp.denoise(noisy, method=method).image
    assert _psnr(denoised, clean) > _psnr(noisy, clean) + 2.0
    border = sitk.GetArrayFromImage(sitk.BinaryContour(sitk.Cast(mask > 0, sitk.sitkUInt8))) > 0
    edge = lambda image: float(sitk.GetArrayFromImage(sitk.GradientMagnitude(image))[border].mean())  # noqa: E731
    assert abs(edge(denoised) - edge(clean)) <= EDGE_LOSS_BOUND * edge(clean), (edge(denoised), edge(clean))


@pytest.mark.parametrize("spacing", [(1.0, 1.0, 1.0), (2.0, 2.0, 2.0), (0.5, 0.5, 3.0)])
def test_resampling_keeps_geometry_and_mask_volume(brain, spacing):
    image, mask = brain["raw"], brain["mask"]
    result = pp.resample(image, mask, spacing=spacing)
    assert result.image.GetSpacing() == pytest.approx(spacing)
    assert result.image.GetDirection() == pytest.approx(image.GetDirection())
    centre = lambda im: np.array(im.TransformContinuousIndexToPhysicalPoint(  # noqa: E731
        [(n - 1) / 2 for n in im.GetSize()]))
    assert np.abs(centre(result.image) - centre(image)).max() < 0.5 * max(spacing)
    volume = lambda m: float(np.count_nonzero(sitk.GetArrayViewFromImage(m)) * np.prod(m.GetSpacing()))  # noqa: E731
    assert abs(volume(result.mask) - volume(mask)) <= 0.02 * volume(mask), (volume(result.mask), volume(mask))
    assert result.mask.GetSize() == result.image.GetSize()


def test_normalisations(brain):
    image, mask = brain["raw"], brain["mask"]
    z = sitk.GetArrayFromImage(pp.normalize(image, mask, method="zscore", region="roi").image)
    roi = sitk.GetArrayFromImage(mask) > 0
    assert z[roi].mean() == pytest.approx(0, abs=1e-4) and z[roi].std() == pytest.approx(1, abs=1e-4)
    array = sitk.GetArrayFromImage(image).astype(np.float64)
    clipped = sitk.GetArrayFromImage(pp.normalize(image, method="percentile_clip", region="image", low=1,
                                                  high=99).image)
    low, high = np.percentile(array, [1, 99])
    assert low < high and (array > high).mean() > 0.005  # the clip has work to do
    np.testing.assert_allclose(clipped, np.clip(array, low, high), rtol=1e-6, atol=1e-3)
    # A CT window [level - width/2, level + width/2]: values below and above it clipped, the others unchanged.
    q30, q90 = np.percentile(array, [30, 90])
    hounsfield = sitk.Cast((image - q30) * (400.0 / (q90 - q30)) - 160.0, sitk.sitkFloat32)  # q30 -> -160 HU
    hu = sitk.GetArrayFromImage(hounsfield).astype(np.float64)
    assert (hu < -160).mean() > 0.05 and (hu > 240).mean() > 0.05 and ((hu > -160) & (hu < 240)).mean() > 0.3
    ct = sitk.GetArrayFromImage(pp.normalize(hounsfield, method="ct_window", level=40, width=400).image)
    np.testing.assert_allclose(ct, np.clip(hu, -160, 240), rtol=1e-6, atol=1e-3)


def test_histogram_standardisation_learns_on_a_cohort(brain):
    """Nyul: three differently scaled and shifted copies map onto the same landmarks."""
    raw = brain["raw"]
    cohort = [(raw, None), (raw * 2.5 + 100, None), (sitk.Cast(sitk.Sqrt(raw + 1.0), sitk.sitkFloat32) * 40, None)]
    standardizer = pp.HistogramStandardizer().fit(iter(cohort))
    for image, _ in cohort:
        out = standardizer.transform(image)
        marks = np.percentile(sitk.GetArrayFromImage(out)[sitk.GetArrayFromImage(pp.body_mask(image)) > 0],
                              standardizer.percentiles)
        np.testing.assert_allclose(marks, standardizer.landmarks_, atol=1.0)


def test_recipe_cohort_manifest_and_provenance(brain, tmp_path, data_dir):
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text("name: test\nsteps:\n  - resample: {spacing: [1.5, 1.5, 3.0]}\n"
                      "  - normalize: {method: histogram, region: body}\n")
    manifest = tmp_path / "cohort.csv"
    manifest.write_text("case_id,image,mask,patient_id\n" + "".join(
        f"{c},{data_dir}/{c}_image.nrrd,{data_dir}/{c}_label.nrrd,P{c}\n" for c in ("brain1", "brain2")))
    done = cli("preprocess", "--manifest", manifest, "--recipe", recipe, "--out-dir", tmp_path / "pre",
               "--jobs", "2", "--progress", "none")
    assert done.returncode == 0, done.stderr
    new = pd.read_csv(tmp_path / "pre" / "manifest.csv")
    assert list(new["case_id"]) == ["brain1", "brain2"] and list(new["patient_id"]) == ["Pbrain1", "Pbrain2"]
    image = sitk.ReadImage(str(tmp_path / "pre" / new["image"][0]))
    assert image.GetSpacing() == pytest.approx((1.5, 1.5, 3.0))
    provenance = json.loads((tmp_path / "pre" / "manifest.provenance.json").read_text())
    assert len(provenance["recipe"]["learned"]["histogram_landmarks"]) == 11
    again = cli("preprocess", "--manifest", manifest, "--recipe", recipe, "--out-dir", tmp_path / "pre",
                "--progress", "none")
    assert "0 computed, 2 already done" in again.stderr
    out = tmp_path / "features.csv"
    done = cli("extract", "--manifest", tmp_path / "pre" / "manifest.csv", "--preset", "MR", "--out", out,
               "--progress", "none")
    assert done.returncode == 0, done.stderr
    recorded = json.loads(out.with_name("features.provenance.json").read_text())["preprocessing"]
    assert set(recorded) == {"brain1", "brain2"}
    assert [s["step"] for s in recorded["brain1"]["steps"]] == ["resample", "normalize"]
    # The same recipe, applied on the fly, is recorded too.
    onthefly = tmp_path / "onthefly.csv"
    done = cli("extract", "--image", brain["image_file"], "--mask", brain["mask_file"], "--preset", "MR",
               "--preprocess", "CT", "--out", onthefly, "--progress", "none")
    assert done.returncode == 0, done.stderr
    recorded = json.loads(onthefly.with_name("onthefly.provenance.json").read_text())["preprocessing"]
    assert recorded["brain1_image"]["recipe"]["name"] == "CT"


def test_bad_inputs_name_the_file(brain, tmp_path, sample_case):
    image_file, mask_file = brain["image_file"], brain["mask_file"]
    shifted = sitk.ReadImage(str(mask_file))
    shifted.SetOrigin([o + 0.3 for o in shifted.GetOrigin()])
    sitk.WriteImage(shifted, str(tmp_path / "shifted.nrrd"))
    done = cli("preprocess", "--image", image_file, "--mask", tmp_path / "shifted.nrrd", "--recipe", "CT",
               "--out-dir", tmp_path / "o1", "--progress", "none")
    assert done.returncode == 1 and "does not match the image" in done.stderr and "shifted.nrrd" in done.stderr
    zero = sitk.Image(brain["raw"].GetSize(), sitk.sitkFloat32)
    zero.CopyInformation(brain["raw"])
    with pytest.raises(InputError, match="constant"):
        pp.n4_bias_correction(zero)
    lung = sitk.ReadImage(str(sample_case("lung1")[0]))  # CT in HU: mostly below zero
    with pytest.raises(InputError, match="log intensities"):
        pp.n4_bias_correction(lung, use_mask="none")
    assert pp.n4_bias_correction(lung[200:300, 200:300, 20:30], use_mask="none", shift=True).info["offset"] > 0
    with pytest.raises(InputError, match="3D image"):
        pp.n4_bias_correction(brain["raw"][:, :, 10])
    # Through the command line each names the case and the file.
    sitk.WriteImage(zero, str(tmp_path / "zero.nrrd"))
    sitk.WriteImage(brain["raw"][:, :, 10], str(tmp_path / "slice.nrrd"))
    n4_only = tmp_path / "n4.yaml"
    n4_only.write_text("steps:\n  - n4: {use_mask: none}\n")
    for name, source, expected in [("zero", tmp_path / "zero.nrrd", "constant"),
                                   ("slice", tmp_path / "slice.nrrd", "3D image"),
                                   ("lung", sample_case("lung1")[0], "log intensities")]:
        done = cli("preprocess", "--image", source, "--recipe", n4_only, "--out-dir", tmp_path / f"o-{name}",
                   "--case-id", name, "--progress", "none")
        assert done.returncode == 1, done.stderr
        assert expected in done.stderr and f"case '{name}'" in done.stderr and str(source) in done.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text("steps:\n  - sharpen: {}\n")
    with pytest.raises(SettingsError, match="unknown recipe step 'sharpen'") as caught:
        load_recipe(bad)
    assert str(bad) in str(caught.value)
    done = cli("preprocess", "--image", image_file, "--recipe", bad, "--out-dir", tmp_path / "o2")
    assert done.returncode == 2 and "bad.yaml" in done.stderr


def test_cohort_preprocessing_reports_its_steps_as_jsonl_log_events(tmp_path, data_dir):
    """--progress jsonl carries `log` events beside progress and result (README; what Slicer shows in its log):
    learning the histogram landmarks on the cohort is one."""
    import json

    from clitools import cli

    (tmp_path / "histogram.yaml").write_text("name: histogram_only\nsteps:\n"
                                             "  - normalize: {method: histogram, region: body}\n")
    (tmp_path / "m.csv").write_text("case_id,image,mask\n" + "".join(
        f"{c},{data_dir}/{c}_image.nrrd,{data_dir}/{c}_label.nrrd\n" for c in ("brain1", "brain2")))
    done = cli("preprocess", "--manifest", tmp_path / "m.csv", "--recipe", tmp_path / "histogram.yaml",
               "--out-dir", tmp_path / "out", "--progress", "jsonl")
    events = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    logs = [e for e in events if e["event"] == "log"]
    assert {"event": "log", "step": "preprocess", "level": "info",
            "message": "learning histogram landmarks on the cohort"} in logs, logs
    kinds = [e["event"] for e in events]
    assert kinds.index("log") < kinds.index("result") and kinds[-1] == "result"
    # and the Slicer module's reader passes it on to its log (level, message)
    from RadiomicsWorkshopLib import commands

    shown = []
    reader = commands.ProgressReader(on_log=lambda level, message: shown.append((level, message)))
    for line in done.stdout.splitlines():
        event = commands.parse_event(line)
        if event is not None:
            reader.handle(event)
    assert ("info", "learning histogram landmarks on the cohort") in shown
