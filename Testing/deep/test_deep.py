"""Deep features (MONAI networks, CPU) on the PyRadiomics sample cases.

No pretrained weights are downloaded: the tests write their own weights file
(random initialisation, saved, loaded back through the public path).
"""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk
import torch
from RadiomicsWorkshopLib.deep.embeddings import DeepFeatureExtractor, build_model
from RadiomicsWorkshopLib.io.errors import InputError


@pytest.fixture(scope="module")
def brain(sample_case):
    image_file, mask_file = sample_case("brain2")
    return sitk.ReadImage(str(image_file)), sitk.ReadImage(str(mask_file))


@pytest.fixture(scope="module")
def weights_file(tmp_path_factory):
    torch.manual_seed(123)
    model = build_model("resnet18", "random", seed=123)
    path = tmp_path_factory.mktemp("weights") / "resnet18.pt"
    torch.save(model.state_dict(), path)
    return path, model


def test_saved_weights_give_the_in_memory_models_features(brain, weights_file):
    path, model = weights_file
    image, mask = brain
    from_file = DeepFeatureExtractor("resnet18", path)
    in_memory = DeepFeatureExtractor("resnet18", model)
    inputs = from_file.slices_2d(image, mask, 1)
    np.testing.assert_array_equal(from_file.embed(inputs), in_memory.embed(inputs))
    assert from_file.features(image, mask, 1) == in_memory.features(image, mask, 1)


def test_features_are_bit_identical_twice_and_2d_shapes(brain, weights_file):
    path, _ = weights_file
    image, mask = brain
    extractor = DeepFeatureExtractor("resnet18", path, batch_size=4)
    first, second = extractor.features(image, mask, 1), extractor.features(image, mask, 1)
    assert first == second
    assert len([k for k in first if k.startswith("deep_resnet18_")]) == 512
    assert len([k for k in first if k.startswith("deep_resnet18-max_")]) == 512
    inputs = extractor.slices_2d(image, mask, 1)
    roi_slices = int((sitk.GetArrayViewFromImage(mask).sum(axis=(1, 2)) > 0).sum())
    assert inputs.shape == (roi_slices, 3, 224, 224)
    # deep_<model>_k is the mean over the ROI's slices of the pooled embedding, deep_<model>-max_k the maximum
    per_slice = extractor.embed(inputs)
    assert per_slice.shape == (roi_slices, 512) and per_slice.std(axis=0).max() > 0  # the slices differ
    np.testing.assert_allclose([first[f"deep_resnet18_{k}"] for k in range(512)], per_slice.mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose([first[f"deep_resnet18-max_{k}"] for k in range(512)], per_slice.max(axis=0),
                               rtol=1e-6)
    two_five = DeepFeatureExtractor("resnet18", path, context_slices=1).slices_2d(image, mask, 1)
    assert two_five.shape == inputs.shape and not np.array_equal(two_five[:, 0], two_five[:, 1])


def test_3d_patch_follows_the_roi_when_the_image_moves_or_is_reoriented(brain):
    image, mask = brain
    extractor = DeepFeatureExtractor("resnet18_3d", "random", patch_mm=40, patch_spacing_mm=2.0)
    reference = extractor.patch_3d(image, mask, 1)
    assert reference.shape == (1, 1, 20, 20, 20)
    # Shifted origin: image and mask move together, the patch follows the ROI.
    moved_image, moved_mask = sitk.Image(image), sitk.Image(mask)
    for im in (moved_image, moved_mask):
        im.SetOrigin([o + d for o, d in zip(im.GetOrigin(), (13.0, -27.0, 41.0))])
    np.testing.assert_allclose(extractor.patch_3d(moved_image, moved_mask, 1), reference, atol=1e-4)
    # Non-identity direction: the same physical image stored in another orientation (RAS instead of LPS).
    ras_image, ras_mask = sitk.DICOMOrient(image, "RAS"), sitk.DICOMOrient(mask, "RAS")
    assert ras_image.GetDirection() != image.GetDirection()
    np.testing.assert_allclose(extractor.patch_3d(ras_image, ras_mask, 1), reference, atol=1e-3)
    features = extractor.features(image, mask, 1)
    assert len(features) == 512 and all(np.isfinite(v) for v in features.values())


def _blob_phantom(direction: tuple[float, ...]) -> tuple[sitk.Image, sitk.Image, np.ndarray]:
    """An ROI far from the image's centre, with a Gaussian blob at its centroid, long along world x
    (sigma 6 mm) and short along y and z (2 mm); image axes in ``direction``. Returns image, mask, centroid."""
    image = sitk.Image([80, 70, 40], sitk.sitkFloat32)
    image.SetSpacing((1.0, 1.25, 2.0))
    image.SetOrigin((-31.0, 12.0, 140.0))
    image.SetDirection(direction)
    size = np.array(image.GetSize())
    index = np.stack(np.meshgrid(*[np.arange(n) for n in size], indexing="ij"), axis=-1).reshape(-1, 3)
    points = np.array(image.GetOrigin()) + (np.array(direction).reshape(3, 3) @ (index * image.GetSpacing()).T).T
    centre = np.array(image.TransformContinuousIndexToPhysicalPoint((14.0, 52.0, 9.0)))  # off-centre
    inside = np.linalg.norm(points - centre, axis=1) <= 8.0
    blob = np.exp(-0.5 * (((points - centre) / (6.0, 2.0, 2.0)) ** 2).sum(axis=1))
    to_image = lambda values: values.reshape(*size).transpose(2, 1, 0)  # noqa: E731  (x, y, z) -> (z, y, x)
    out_image = sitk.GetImageFromArray(to_image(100.0 * blob).astype(np.float32))
    out_mask = sitk.GetImageFromArray(to_image(inside).astype(np.uint8))
    for out in (out_image, out_mask):
        out.CopyInformation(image)
    stats = sitk.LabelShapeStatisticsImageFilter()
    stats.Execute(out_mask)
    return out_image, out_mask, np.array(stats.GetCentroid(1))


@pytest.mark.parametrize("direction", [(1, 0, 0, 0, 1, 0, 0, 0, 1), (0, 1, 0, -1, 0, 0, 0, 0, 1)],
                         ids=["identity", "rotated in-plane"])
def test_3d_patch_centre_and_axes_are_the_rois_in_world_space(direction):
    """The patch's intensity centroid is its centre (the blob sits at the ROI's centroid, far from the
    image's centre), and the blob's long world-x axis is the patch's last array axis, whatever the image's
    orientation: a patch centred elsewhere, or aligned with the image's own axes, fails."""
    image, mask, centroid = _blob_phantom(direction)
    extractor = DeepFeatureExtractor("resnet18_3d", "random", patch_mm=40, patch_spacing_mm=2.0)
    patch = extractor.patch_3d(image, mask, 1)[0, 0]  # (z, y, x), 20 voxels of 2 mm
    weights = patch - patch.min()
    grid = np.stack(np.meshgrid(*[np.arange(n) for n in patch.shape], indexing="ij"))
    centre_of_mass = (grid * weights).reshape(3, -1).sum(axis=1) / weights.sum()
    np.testing.assert_allclose(centre_of_mass, [9.5, 9.5, 9.5], atol=0.15)
    spread = [float(np.sqrt(((grid[a] - 9.5) ** 2 * weights).sum() / weights.sum())) for a in range(3)]
    assert spread[2] > 2 * spread[1] and spread[2] > 2 * spread[0], spread  # long along x, the last axis
    assert np.linalg.norm(centroid - np.array(image.TransformContinuousIndexToPhysicalPoint(
        [(n - 1) / 2 for n in image.GetSize()]))) > 30, "the ROI must lie far from the image's centre"


def test_fmcib_architecture_gives_4096_features(brain):
    image, mask = brain
    extractor = DeepFeatureExtractor("fmcib", "random", patch_mm=32)  # a smaller cube keeps the test quick
    assert len(extractor.features(image, mask, 1)) == 4096


def test_missing_or_mismatched_weights_are_clear_errors(tmp_path, weights_file):
    with pytest.raises(InputError, match="weights file not found") as caught:
        DeepFeatureExtractor("resnet18", tmp_path / "nope.pt")
    assert "--weights pretrained" in str(caught.value) and "nope.pt" in str(caught.value)
    path, _ = weights_file
    with pytest.raises(InputError, match="do not fit the resnet50 network"):
        DeepFeatureExtractor("resnet50", path)
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(InputError, match="cannot be read"):
        DeepFeatureExtractor("resnet18", garbage)


def _cli(*args):
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "RadiomicsWorkshopLib", *map(str, args)], capture_output=True,
                          text=True)


def test_cohort_cli_resume_and_merge_with_radiomics(tmp_path, data_dir, weights_file):
    import json

    import pandas as pd

    path, _ = weights_file
    manifest = tmp_path / "m.csv"
    manifest.write_text("case_id,image,mask,patient_id\n" + "".join(
        f"{c},{data_dir}/{c}_image.nrrd,{data_dir}/{c}_label.nrrd,P-{c}\n" for c in ("brain2", "breast1")))
    deep = tmp_path / "deep.csv"
    done = _cli("deep-features", "--manifest", manifest, "--weights", path, "--out", deep, "--device", "cpu",
                "--progress", "none")
    assert done.returncode == 0, done.stderr
    table = pd.read_csv(deep)
    assert list(table["case_id"]) == ["brain2", "breast1"] and list(table.columns[:3]) == ["case_id", "roi",
                                                                                           "patient_id"]
    assert table.filter(like="deep_resnet18").shape[1] == 1024  # mean and max over slices
    provenance = json.loads((tmp_path / "deep.provenance.json").read_text())
    assert provenance["settings"]["model"] == "resnet18" and provenance["versions"]["torch"].startswith("2.")
    again = _cli("deep-features", "--manifest", manifest, "--weights", path, "--out", deep, "--device", "cpu",
                 "--progress", "none")
    assert "0 computed, 2 already done" in again.stderr
    radiomics = tmp_path / "radiomics.csv"
    params = tmp_path / "p.yaml"
    params.write_text("imageType: {Original: {}}\nfeatureClass: {firstorder: []}\nsetting: {binWidth: 25}\n")
    assert _cli("extract", "--manifest", manifest, "--params", params, "--out", radiomics).returncode == 0
    merged_file = tmp_path / "merged.csv"
    done = _cli("merge", radiomics, deep, "--out", merged_file)
    assert done.returncode == 0, done.stderr
    merged = pd.read_csv(merged_file)
    assert len(merged) == 2 and "original_firstorder_Mean" in merged and "deep_resnet18_0" in merged
    # Missing keys are refused with a report, or dropped with --inner and said so.
    pd.read_csv(radiomics).iloc[:1].to_csv(tmp_path / "one.csv", index=False)
    refused = _cli("merge", tmp_path / "one.csv", deep, "--out", tmp_path / "x.csv")
    assert refused.returncode == 2 and "keys differ" in refused.stderr and "breast1" in refused.stderr
    inner = _cli("merge", tmp_path / "one.csv", deep, "--inner", "--out", tmp_path / "x.csv")
    assert inner.returncode == 0 and "dropped" in inner.stderr
    doubled = pd.concat([pd.read_csv(radiomics)] * 2)
    doubled.to_csv(tmp_path / "doubled.csv", index=False)
    refused = _cli("merge", tmp_path / "doubled.csv", deep, "--out", tmp_path / "y.csv")
    assert refused.returncode == 2 and "duplicated key" in refused.stderr
    clinical = tmp_path / "clinical.csv"
    clinical.write_text("case_id,age,label\nbrain2,61,1\n")
    refused = _cli("merge", radiomics, deep, "--clinical", clinical, "--out", tmp_path / "z.csv")
    assert refused.returncode == 2 and "no clinical row" in refused.stderr
    clinical.write_text("case_id,age,label\nbrain2,61,1\nbreast1,48,0\n")
    done = _cli("merge", radiomics, deep, "--clinical", clinical, "--out", tmp_path / "z.csv")
    assert done.returncode == 0 and list(pd.read_csv(tmp_path / "z.csv")["age"]) == [61, 48]


def test_pca_is_fitted_on_training_rows_only():
    import pandas as pd
    from RadiomicsWorkshopLib.deep.reduction import DeepFeaturePCA
    from sklearn.model_selection import train_test_split

    rng = np.random.default_rng(0)
    latent = rng.normal(size=(60, 3))
    deep = latent @ rng.normal(size=(3, 40)) + 0.01 * rng.normal(size=(60, 40))
    frame = pd.DataFrame(deep, columns=[f"deep_resnet18_{k}" for k in range(40)])
    frame["original_firstorder_Mean"] = rng.normal(size=60)
    train, test = train_test_split(frame, test_size=0.3, random_state=0)
    reducer = DeepFeaturePCA(n_components=0.99).fit(train)
    assert reducer.pca_.n_components_ == 3  # the three latent directions
    out = reducer.transform(test)
    assert list(out.columns) == ["original_firstorder_Mean", "deep_pca_0", "deep_pca_1", "deep_pca_2"]
    expected = (test[reducer.columns_].to_numpy() - train[reducer.columns_].to_numpy().mean(axis=0)) @ \
        reducer.pca_.components_.T
    np.testing.assert_allclose(out[["deep_pca_0", "deep_pca_1", "deep_pca_2"]].to_numpy(), expected, atol=1e-9)
    np.testing.assert_array_equal(out["original_firstorder_Mean"], test["original_firstorder_Mean"])
    with pytest.raises(InputError, match="missing"):
        reducer.transform(test.drop(columns=["deep_resnet18_7"]))


def test_reduced_precision_is_opt_in_and_close(brain, weights_file):
    path, _ = weights_file
    image, mask = brain
    full = DeepFeatureExtractor("resnet18", path)
    half = DeepFeatureExtractor("resnet18", path, precision="bfloat16")
    inputs = full.slices_2d(image, mask, 1)
    a, b = full.embed(inputs), half.embed(inputs)
    assert not np.array_equal(a, b)
    assert np.max(np.abs(a - b)) <= 2e-2 * np.max(np.abs(a))
    with pytest.raises(Exception, match="precision"):
        DeepFeatureExtractor("resnet18", path, precision="int8")


@pytest.mark.parametrize("context", [0, 2])
def test_slice_inputs_follow_their_definition_at_the_volume_edge(brain, context):
    """Inputs read from the slab around the ROI equal those defined on the whole volume, even where the
    2.5D neighbours run past the first slice (clamped to it)."""
    import torch.nn.functional as F

    image, mask = brain
    array = sitk.GetArrayFromImage(mask)
    edge = np.zeros_like(array)
    edge[:2] = array[array.sum(axis=(1, 2)).argmax()]  # the largest ROI slice, copied onto slices 0 and 1
    edge_mask = sitk.GetImageFromArray(edge)
    edge_mask.CopyInformation(mask)
    extractor = DeepFeatureExtractor("resnet18", "random", context_slices=context, margin_mm=5.0)
    volume = sitk.GetArrayFromImage(image).astype(np.float64)
    ys, xs = np.nonzero(edge[0])
    my, mx = (int(round(5.0 / s)) for s in (image.GetSpacing()[1], image.GetSpacing()[0]))
    rows = slice(max(ys.min() - my, 0), min(ys.max() + 1 + my, volume.shape[1]))
    cols = slice(max(xs.min() - mx, 0), min(xs.max() + 1 + mx, volume.shape[2]))
    low, high = np.percentile(volume[0:2, rows, cols], [0.5, 99.5])
    scaled = np.clip((volume - low) / (high - low), 0, 1)
    expected = []
    for z in (0, 1):
        neighbours = [min(max(z + d, 0), len(volume) - 1) for d in (-context, 0, context)]
        expected.append(scaled[neighbours][:, rows, cols])
    expected = F.interpolate(torch.tensor(np.stack(expected), dtype=torch.float32), size=(224, 224),
                             mode="bilinear", align_corners=False)
    mean, std = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1), torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    np.testing.assert_allclose(extractor.slices_2d(image, edge_mask, 1), ((expected - mean) / std).numpy(), atol=1e-5)


def test_train_deep_pca_sits_in_the_pipeline_and_the_saved_model(tmp_path):
    """`train --deep-pca`: the deep columns are reduced inside the folds (a Pipeline step), the reduced
    components are what the selection sees, and the saved model applies the same PCA to new rows."""
    import pandas as pd
    from RadiomicsWorkshopLib.modeling.store import load_model

    rng = np.random.default_rng(1)
    n = 60
    latent = rng.normal(size=(n, 2))
    deep = latent @ rng.normal(size=(2, 30)) + 0.05 * rng.normal(size=(n, 30))
    table = pd.DataFrame(deep, columns=[f"deep_resnet18_{k}" for k in range(30)])
    table.insert(0, "case_id", [f"c{i:02d}" for i in range(n)])
    table.insert(1, "roi", "1")
    table["original_firstorder_Mean"] = rng.normal(size=n)
    table["label"] = np.where(latent[:, 0] + 0.3 * rng.normal(size=n) > 0, "high", "low")
    table.to_csv(tmp_path / "features.csv", index=False)
    done = _cli("train", "--table", tmp_path / "features.csv", "--outcome", "label", "--out", tmp_path / "model",
                "--deep-pca", "0.9", "--k", "2", "--outer-folds", "3", "--inner-folds", "3", "--bootstrap", "50",
                "--jobs", "1")
    assert done.returncode == 0, done.stderr[-2000:]
    pipeline, card = load_model(tmp_path / "model")
    assert "deep_pca" in dict(pipeline.steps)
    assert card["settings"]["deep_pca"] == 0.9
    selected = card["final_model"]["selected_features"]
    assert selected and all(not f.startswith("deep_resnet18_") for f in selected), selected
    assert any(f.startswith("deep_pca_") for f in selected), selected
    assert card["cross_validation"]["metrics"]["auc"] > 0.8
    predictions = tmp_path / "p.csv"
    assert _cli("predict", "--model", tmp_path / "model", "--table", tmp_path / "features.csv",
                "--out", predictions).returncode == 0
    assert len(pd.read_csv(predictions)) == n
    assert _cli("train", "--table", tmp_path / "features.csv", "--outcome", "label", "--out", tmp_path / "bad",
                "--deep-pca", "2.5").returncode == 2


def test_networks_have_one_name_everywhere():
    """deep/names.py names the deep-feature networks the extractor builds, and one spelling of EfficientNet-B0
    serves deep features and the CNN alike (MONAI's own "efficientnet-b0" accepted and mapped)."""
    from RadiomicsWorkshopLib.cnn.settings import BACKBONES as CNN_BACKBONES
    from RadiomicsWorkshopLib.cnn.settings import CnnSettings
    from RadiomicsWorkshopLib.deep import embeddings, names

    assert tuple(embeddings.BACKBONES) == names.DEEP_FEATURE_MODELS
    assert [embeddings.BACKBONES[n].dims for n in names.DEEP_FEATURE_MODELS] == \
        [2] * len(names.DEEP_FEATURE_MODELS_2D) + [3] * len(names.DEEP_FEATURE_MODELS_3D)
    assert "efficientnet_b0" in CNN_BACKBONES and "efficientnet_b0" in embeddings.BACKBONES
    assert CnnSettings(backbone="efficientnet-b0").check().backbone == "efficientnet_b0"
    assert embeddings.backbone("efficientnet-b0").name == "efficientnet_b0"


def test_ct_modality_windows_hounsfield_units_and_mr_the_rois_percentiles():
    """--modality CT maps -1000..1000 HU onto the network's 0..1 (0 HU -> 0.5, 3000 HU clipped to 1) whatever
    else the image holds; MR scales the ROI box's own 0.5-99.5 percentiles (its darkest part -> 0)."""
    from RadiomicsWorkshopLib.deep.embeddings import IMAGENET_MEAN, IMAGENET_STD

    array = np.full((5, 64, 64), -2000.0, np.float32)  # z, y, x
    array[:, :, :32], array[:, :, 32:] = 0.0, 3000.0  # left half water, right half dense bone
    image = sitk.GetImageFromArray(array)
    roi = np.zeros(array.shape, np.uint8)
    roi[2, 16:48, 8:56] = 1
    mask = sitk.GetImageFromArray(roi)

    def unnormalised(modality: str) -> np.ndarray:
        inputs = DeepFeatureExtractor("resnet18", "random", modality=modality, margin_mm=0).slices_2d(image, mask, 1)
        assert inputs.shape == (1, 3, 224, 224)
        return inputs[0, 0] * IMAGENET_STD[0] + IMAGENET_MEAN[0]

    ct, mr = unnormalised("CT"), unnormalised("MR")
    left, right = (slice(90, 134), slice(20, 80)), (slice(90, 134), slice(144, 204))
    np.testing.assert_allclose(ct[left], 0.5, atol=1e-5)
    np.testing.assert_allclose(ct[right], 1.0, atol=1e-5)
    np.testing.assert_allclose(mr[left], 0.0, atol=1e-5)
    np.testing.assert_allclose(mr[right], 1.0, atol=1e-5)
