"""Automatic segmentation (MONAI): a network that really learns, on CPU, from generated 3D phantoms.

Phantoms: lesion-like blobs of varying size, shape, contrast (brighter or
darker) and texture in a noisy background with a smooth bias field. The
network is trained once per module (about a minute on two cores).
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk
from clitools import cli
from conftest import JOBS
from RadiomicsWorkshopLib.io.errors import InputError
from RadiomicsWorkshopLib.io.manifest import read_manifest
from RadiomicsWorkshopLib.segmentation.autoseg import load_bundle, segment, train_segmentation
from RadiomicsWorkshopLib.segmentation.metrics import segmentation_metrics
from RadiomicsWorkshopLib.segmentation.settings import SegSettings
from scipy import ndimage

SETTINGS = dict(patch=(48, 48, 32), channels=(8, 16, 32, 64), patience=10)


def phantom(rng: np.random.Generator, shape=(32, 48, 48), spacing=(1.0, 1.0, 1.5)) -> tuple[sitk.Image, sitk.Image]:
    z, y, x = np.meshgrid(*[np.arange(n, dtype=float) for n in shape], indexing="ij")
    mm = [x * spacing[0], y * spacing[1], z * spacing[2]]
    centre = [rng.uniform(15, 33), rng.uniform(15, 33), rng.uniform(15, 33)]
    radii = rng.uniform(5, 9, 3)
    bumps = ndimage.gaussian_filter(rng.normal(size=shape), 4)
    radius = np.sqrt(sum(((m - c) / r) ** 2 for m, c, r in zip(mm, centre, radii)))
    mask = radius * (1 + 0.15 * bumps / (np.abs(bumps).max() + 1e-6)) <= 1
    background = 100 + 15 * ndimage.gaussian_filter(rng.normal(size=shape), 2)
    contrast = rng.uniform(40, 90) * rng.choice([-1, 1])
    image = background + mask * (contrast + 10 * ndimage.gaussian_filter(rng.normal(size=shape), 1))
    bias = 1 + 0.3 * np.sin(mm[0] / 40 + rng.uniform(0, 3)) * np.cos(mm[1] / 50 + rng.uniform(0, 3))
    image = image * bias + rng.normal(0, 8, shape)
    out = sitk.GetImageFromArray(image.astype(np.float32))
    out.SetSpacing(spacing)
    label = sitk.GetImageFromArray(mask.astype(np.uint8))
    label.CopyInformation(out)
    return out, label


def write_cohort(folder, n: int, seed: int) -> list:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        image, label = phantom(rng)
        sitk.WriteImage(image, str(folder / f"p{i:02d}.nrrd"))
        sitk.WriteImage(label, str(folder / f"p{i:02d}_label.nrrd"))
        rows.append({"case_id": f"p{i:02d}", "image": f"p{i:02d}.nrrd", "mask": f"p{i:02d}_label.nrrd"})
    pd.DataFrame(rows).to_csv(folder / "manifest.csv", index=False)
    return read_manifest(folder / "manifest.csv")


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    folder = tmp_path_factory.mktemp("phantoms")
    cases = write_cohort(folder, 24, seed=0)
    return folder, cases[:20], cases[20:]  # 20 to train (4 of them validate), 4 held out


@pytest.fixture(scope="module")
def trained(cohort, tmp_path_factory):
    folder, training, _ = cohort
    bundle = tmp_path_factory.mktemp("bundle") / "phantom_bundle"
    settings = SegSettings(epochs=30, **SETTINGS).check()
    result = train_segmentation(training, bundle, settings, device="cpu", jobs=JOBS)
    return result


@pytest.mark.slow
def test_training_reaches_dice_on_held_out_phantoms(trained, cohort):
    _, _, held_out = cohort
    assert trained.best_dice >= 0.9, trained.history  # README: validation Dice 0.93
    assert len(trained.history) == trained.epochs and trained.history[-1]["epoch"] == trained.epochs
    bundle = load_bundle(trained.folder)
    dice = []
    for case in held_out:
        prediction = segment(bundle, sitk.ReadImage(str(case.image)))
        assert prediction.GetPixelID() == sitk.sitkUInt8
        dice.append(segmentation_metrics(prediction, sitk.ReadImage(str(case.mask)), labels=[1])[0]["dice"])
    assert np.mean(dice) >= 0.94, dice  # README: held-out Dice >= 0.94
    # Test-time augmentation (mirrored copies averaged) keeps the quality.
    tta = segment(bundle, sitk.ReadImage(str(held_out[0].image)), tta=True)
    tta_dice = segmentation_metrics(tta, sitk.ReadImage(str(held_out[0].mask)), labels=[1])[0]["dice"]
    assert tta_dice >= dice[0] - 0.02, (tta_dice, dice[0])
    # The MONAI bundle layout.
    for name in ("configs/inference.json", "configs/metadata.json", "models/model.pt"):
        assert (trained.folder / name).is_file()
    assert not (trained.folder / "checkpoint.pt").exists()
    metadata = json.loads((trained.folder / "configs" / "metadata.json").read_text())
    assert metadata["network_data_format"]["outputs"]["pred"]["channel_def"] == {"0": "background", "1": "lesion"}


@pytest.mark.slow
def test_segmentation_lands_in_the_right_physical_place(trained, cohort):
    _, _, held_out = cohort
    bundle = load_bundle(trained.folder)
    image, mask = sitk.ReadImage(str(held_out[0].image)), sitk.ReadImage(str(held_out[0].mask))
    # Another direction (rotated 90 degrees about z) and origin: the same voxels placed elsewhere in space.
    for im in (image, mask):
        im.SetDirection((0.0, -1.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0))
        im.SetOrigin((-30.0, 12.5, 50.0))
    prediction = segment(bundle, image)
    assert prediction.GetDirection() == image.GetDirection() and prediction.GetOrigin() == image.GetOrigin()
    assert segmentation_metrics(prediction, mask, labels=[1])[0]["dice"] >= 0.85
    # The same physical image stored in RAS order: compared with the LPS-stored mask in physical space.
    ras = sitk.DICOMOrient(image, "RAS")
    assert ras.GetDirection() != image.GetDirection()
    assert segmentation_metrics(segment(bundle, ras), mask, labels=[1])[0]["dice"] >= 0.85
    # Air around the body: the foreground crop removes it before the network, the inversion puts it back.
    padded, padded_mask = (sitk.ConstantPad(im, [12, 12, 4], [12, 12, 4], 0) for im in (image, mask))
    prediction = segment(bundle, padded)
    assert prediction.GetSize() == padded.GetSize() and prediction.GetOrigin() == padded.GetOrigin()
    assert segmentation_metrics(prediction, padded_mask, labels=[1])[0]["dice"] >= 0.85


@pytest.mark.slow
def test_bundle_in_a_fresh_process_gives_the_same_output(trained, cohort, tmp_path):
    folder, _, held_out = cohort
    here = segment(load_bundle(trained.folder), sitk.ReadImage(str(held_out[1].image)))
    cli("segment", "--model", trained.folder, "--image", held_out[1].image, "--out", tmp_path / "there.nrrd",
        "--reference", held_out[1].mask, "--metrics-out", tmp_path / "one.csv", "--device", "cpu", "--progress", "none")
    assert pd.read_csv(tmp_path / "one.csv")["dice"].iloc[0] >= 0.85
    there = sitk.ReadImage(str(tmp_path / "there.nrrd"))
    np.testing.assert_array_equal(sitk.GetArrayFromImage(there), sitk.GetArrayFromImage(here))
    assert there.GetOrigin() == here.GetOrigin() and there.GetSpacing() == here.GetSpacing()
    # A cohort, then its evaluation table.
    pd.DataFrame([{"case_id": c.case_id, "image": c.image, "mask": c.mask} for c in held_out]).to_csv(
        tmp_path / "held_out.csv", index=False)
    cli("segment", "--model", trained.folder, "--manifest", tmp_path / "held_out.csv", "--out-dir", tmp_path / "seg",
        "--device", "cpu", "--progress", "none")
    cli("evaluate-seg", "--manifest", tmp_path / "held_out.csv", "--predictions", tmp_path / "seg",
        "--out", tmp_path / "dice.csv")
    table = pd.read_csv(tmp_path / "dice.csv")
    assert list(table["case_id"]) == [c.case_id for c in held_out] and table["dice"].mean() >= 0.85
    assert {"iou", "hausdorff95_mm", "surface_dice"} <= set(table.columns)


@pytest.mark.slow
def test_incomplete_bundles_and_bad_images_are_clear_errors(trained, tmp_path):
    no_weights = shutil.copytree(trained.folder, tmp_path / "no_weights")
    (no_weights / "models" / "model.pt").unlink()
    with pytest.raises(InputError, match="no weights"):
        load_bundle(no_weights)
    no_config = shutil.copytree(trained.folder, tmp_path / "no_config")
    (no_config / "configs" / "inference.json").unlink()
    with pytest.raises(InputError, match="no configs/inference.json"):
        load_bundle(no_config)
    wrong = shutil.copytree(trained.folder, tmp_path / "wrong")
    config = json.loads((wrong / "configs" / "inference.json").read_text())
    config["network_def"]["channels"] = [4, 8, 16, 32]
    (wrong / "configs" / "inference.json").write_text(json.dumps(config))
    with pytest.raises(InputError, match="does not fit"):
        load_bundle(wrong)
    done = cli("segment", "--model", no_weights, "--image", "x.nrrd", "--out", tmp_path / "x.nrrd", check=False)
    assert done.returncode == 2 and "models/model.pt" in done.stderr
    bundle = load_bundle(trained.folder)
    with pytest.raises(InputError, match="3D"):
        segment(bundle, sitk.Image([40, 40], sitk.sitkFloat32))
    with pytest.raises(InputError, match="every voxel is 0"):
        segment(bundle, sitk.Image([40, 40, 20], sitk.sitkFloat32))
    with pytest.raises(InputError, match="components"):
        segment(bundle, sitk.Image([40, 40, 20], sitk.sitkVectorFloat32, 2))
    # Nothing to find: reported, not a crash. A wildly different voxel size: warned.
    warnings = []
    flat = sitk.GetImageFromArray(np.random.default_rng(0).normal(100, 8, (32, 48, 48)).astype(np.float32))
    flat.SetSpacing((1.0, 1.0, 1.5))
    empty = segment(bundle, flat, warn=warnings.append)
    assert not sitk.GetArrayViewFromImage(empty).any() and any("empty" in w for w in warnings)
    coarse = sitk.Image([6, 6, 4], sitk.sitkFloat32) + 100.0  # 48 x 48 x 48 mm in voxels of 8 x 8 x 12 mm
    coarse.SetSpacing((8.0, 8.0, 12.0))
    segment(bundle, coarse, warn=warnings.append)
    assert any("far from the training" in w for w in warnings)


def test_model_zoo_bundle_layout_runs_through_the_same_path(tmp_path):
    """A bundle laid out as MONAI's spleen_ct_segmentation (its inference.json, with @references and
    LoadImaged first), with weights the test writes."""
    import torch
    from monai.networks.nets import UNet

    bundle = tmp_path / "spleen_ct_segmentation"
    (bundle / "configs").mkdir(parents=True)
    (bundle / "models").mkdir()
    config = {
        "imports": ["$import glob", "$import os"], "bundle_root": ".", "image_key": "image",
        "network_def": {"_target_": "UNet", "spatial_dims": 3, "in_channels": 1, "out_channels": 2,
                        "channels": [16, 32, 64, 128, 256], "strides": [2, 2, 2, 2], "num_res_units": 2,
                        "norm": "batch"},
        "preprocessing": {"_target_": "Compose", "transforms": [
            {"_target_": "LoadImaged", "keys": "@image_key"},
            {"_target_": "EnsureChannelFirstd", "keys": "@image_key"},
            {"_target_": "Orientationd", "keys": "@image_key", "axcodes": "RAS"},
            {"_target_": "Spacingd", "keys": "@image_key", "pixdim": [1.5, 1.5, 2.0], "mode": "bilinear"},
            {"_target_": "ScaleIntensityRanged", "keys": "@image_key", "a_min": -57, "a_max": 164, "b_min": 0,
             "b_max": 1, "clip": True},
            {"_target_": "EnsureTyped", "keys": "@image_key"}]},
        "inferer": {"_target_": "SlidingWindowInferer", "roi_size": [96, 96, 96], "sw_batch_size": 4,
                    "overlap": 0.5}}
    (bundle / "configs" / "inference.json").write_text(json.dumps(config))
    torch.manual_seed(0)
    torch.save(UNet(3, 1, 2, [16, 32, 64, 128, 256], [2, 2, 2, 2], num_res_units=2, norm="batch").state_dict(),
               bundle / "models" / "model.pt")
    image, _ = phantom(np.random.default_rng(5))
    image.SetOrigin((10.0, -20.0, 5.0))
    labels = segment(load_bundle(bundle), image, postprocess=False, warn=lambda message: None)
    assert labels.GetSize() == image.GetSize() and labels.GetOrigin() == image.GetOrigin()
    assert labels.GetPixelID() == sitk.sitkUInt8 and set(np.unique(sitk.GetArrayViewFromImage(labels))) <= {0, 1}


def _threshold_bundle(folder, pixdim) -> None:
    """A model-zoo-style bundle whose "network" is a 1x1x1 convolution: logits (0.5, x) on the preprocessed
    intensity x, so its label is 1 exactly where ScaleIntensityRanged's output exceeds 0.5: above
    -57 + 0.5 * (164 + 57) = 53.5 HU."""
    import torch

    (folder / "configs").mkdir(parents=True)
    (folder / "models").mkdir()
    config = {
        "image_key": "image",
        "network_def": {"_target_": "torch.nn.Conv3d", "in_channels": 1, "out_channels": 2, "kernel_size": 1},
        "preprocessing": {"_target_": "Compose", "transforms": [
            {"_target_": "LoadImaged", "keys": "@image_key"},
            {"_target_": "EnsureChannelFirstd", "keys": "@image_key"},
            {"_target_": "Orientationd", "keys": "@image_key", "axcodes": "RAS"},
            {"_target_": "Spacingd", "keys": "@image_key", "pixdim": list(pixdim), "mode": "bilinear"},
            {"_target_": "ScaleIntensityRanged", "keys": "@image_key", "a_min": -57, "a_max": 164, "b_min": 0,
             "b_max": 1, "clip": True}]},
        "inferer": {"_target_": "SlidingWindowInferer", "roi_size": [32, 32, 32], "sw_batch_size": 4}}
    (folder / "configs" / "inference.json").write_text(json.dumps(config))
    state = {"weight": torch.tensor([0.0, 1.0]).reshape(2, 1, 1, 1, 1), "bias": torch.tensor([0.5, 0.0])}
    torch.save(state, folder / "models" / "model.pt")


def test_a_model_zoo_bundles_spacing_and_intensity_transforms_are_applied(tmp_path):
    """A ramp from -200 to 300 HU along x: on the image's own spacing the bundle's label is exactly
    ``HU > 53.5`` (ScaleIntensityRanged applied; without it the cut would lie at 0.5 HU); on a 3x coarser
    Spacingd grid the cut moves by up to half a coarse voxel (Spacingd applied; without it, exact again)."""
    x = np.linspace(-200.0, 300.0, 60)
    array = np.broadcast_to(x, (20, 24, 60)).astype(np.float32)  # z, y, x
    image = sitk.GetImageFromArray(np.ascontiguousarray(array))
    image.SetSpacing((1.0, 1.0, 1.5))
    exact = (array > 53.5).astype(np.uint8)
    _threshold_bundle(tmp_path / "fine", (1.0, 1.0, 1.5))
    _threshold_bundle(tmp_path / "coarse", (3.0, 3.0, 4.5))
    fine = sitk.GetArrayFromImage(segment(load_bundle(tmp_path / "fine"), image, postprocess=False,
                                          warn=lambda message: None))
    coarse = sitk.GetArrayFromImage(segment(load_bundle(tmp_path / "coarse"), image, postprocess=False,
                                            warn=lambda message: None))
    np.testing.assert_array_equal(fine, exact)
    assert (coarse != exact).any(), "the coarse grid changed nothing: Spacingd was not applied"
    moved = np.abs(np.argmax(coarse, axis=2) - np.argmax(exact, axis=2))  # where the cut lies, per row
    assert moved.max() <= 2, moved.max()  # half a 3 mm voxel, in 1 mm voxels (and rounding)


class _StopAfter:
    """A progress sink that interrupts training after a number of epochs (as Cancel or kill would)."""

    mode = "none"

    def __init__(self, epochs: int) -> None:
        self.left = epochs

    def start(self, total, message=""):
        pass

    def advance(self, message="", **kwargs):
        self.left -= 1
        if self.left == 0:
            raise KeyboardInterrupt


@pytest.mark.slow
def test_interrupted_training_resumes_from_its_checkpoint(cohort, tmp_path):
    folder, training, _ = cohort
    cases = training[:6]
    pd.DataFrame([{"case_id": c.case_id, "image": c.image, "mask": c.mask} for c in cases]).to_csv(
        tmp_path / "six.csv", index=False)
    settings = SegSettings(epochs=3, **SETTINGS).check()
    with pytest.raises(KeyboardInterrupt):
        train_segmentation(cases, tmp_path / "bundle", settings, device="cpu", progress=_StopAfter(2))
    assert (tmp_path / "bundle" / "checkpoint.pt").is_file()
    assert not (tmp_path / "bundle" / "models" / "model.pt").exists()
    done = cli("train-seg", "--manifest", tmp_path / "six.csv", "--out", tmp_path / "bundle", "--epochs", "3",
               "--patch", "48", "48", "32", "--channels", "8", "16", "32", "64", "--patience", "10",
               "--device", "cpu", "--jobs", "1", "--progress", "none")
    assert "resumed at epoch 3" in done.stderr, done.stderr
    # --jobs 1: torch trained on one thread (torch.get_num_threads() inside the training loop), on this 2-core machine
    assert "1 thread(s)" in done.stderr, done.stderr
    metadata = json.loads((tmp_path / "bundle" / "configs" / "metadata.json").read_text())
    assert [h["epoch"] for h in metadata["radiomics_workshop"]["history"]] == [1, 2, 3]
    assert metadata["radiomics_workshop"]["threads"] == 1
    assert not (tmp_path / "bundle" / "checkpoint.pt").exists()


@pytest.mark.slow
def test_segresnet_trains_and_its_bundle_segments(cohort, tmp_path):
    _, training, held_out = cohort
    import torch

    settings = SegSettings(network="segresnet", epochs=2, patch=(48, 48, 32), channels=(8,)).check()
    threads_before = torch.get_num_threads()
    result = train_segmentation(training[:6], tmp_path / "segresnet", settings, device="cpu", jobs=1)
    assert len(result.history) == 2
    # The budget held while it trained, and torch has its threads back.
    assert result.threads == 1 and torch.get_num_threads() == threads_before
    config = json.loads((tmp_path / "segresnet" / "configs" / "inference.json").read_text())
    assert config["network_def"]["_target_"] == "SegResNet"
    assert config["network_def"]["init_filters"] == 8 and config["network_def"]["out_channels"] == 2
    assert result.history[1]["loss"] < result.history[0]["loss"], result.history  # it learns
    # The bundle's network is the trained one: built from network_def, holding models/model.pt's weights.
    bundle = load_bundle(tmp_path / "segresnet")
    saved = torch.load(tmp_path / "segresnet" / "models" / "model.pt", map_location="cpu", weights_only=True)
    loaded = bundle.network.state_dict()
    assert type(bundle.network).__name__ == "SegResNet" and saved.keys() == loaded.keys()
    assert all(torch.equal(loaded[name].cpu(), tensor) for name, tensor in saved.items())
    assert any(tensor.float().abs().sum() > 0 for tensor in saved.values())
    labels = segment(bundle, sitk.ReadImage(str(held_out[0].image)), warn=lambda message: None)
    assert labels.GetSize() == sitk.ReadImage(str(held_out[0].image)).GetSize()
