"""Automatic segmentation with MONAI: train a 3D network, save it as a MONAI bundle, segment images.

A model is a MONAI bundle folder::

    configs/inference.json   network_def, preprocessing (LoadImaged, EnsureChannelFirstd, Orientationd,
                             Spacingd, intensity scaling, CropForegroundd), inferer (SlidingWindowInferer)
    configs/metadata.json    labels, spacing and intensity statistics of the training data, versions
    models/model.pt          the network's state dict

so MONAI's own tools can read what we train, and bundles from the MONAI model
zoo (same layout) run through the same inference path: their preprocessing
transforms are applied after our image reading (their LoadImaged and
EnsureChannelFirstd are skipped: images are read with SimpleITK, as everywhere
in this project), the sliding-window inferer runs, and the prediction is
inverted back onto the input image's grid, then post-processed (largest
connected component per label, holes filled) into a uint8 label map.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import SimpleITK as sitk

from ..commands import bundle_label_names
from ..deep.device import torch_device
from ..io.errors import InputError, OutputExistsError
from .settings import SegSettings

logger = logging.getLogger(__name__)
LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])
# Foreground crop on the image's own grid (before resampling blurs its edge) and before intensity scaling,
# as MONAI bundle expressions: MR voxels above 0 (air is 0), CT voxels above -500 HU (the body).
FOREGROUND = {"zscore": "$lambda x: x > 0", "ct": "$lambda x: x > -500"}
SKIPPED_TRANSFORMS = ("LoadImage", "LoadImaged", "EnsureChannelFirst", "EnsureChannelFirstd")


# -- images <-> MONAI tensors


def to_meta_tensor(image: sitk.Image):
    """A channel-first MetaTensor (1, i, j, k) whose affine maps voxel indices to RAS millimetres."""
    import torch
    from monai.data import MetaTensor

    if image.GetDimension() != 3:
        raise InputError(f"the image is {image.GetDimension()}D; the segmentation networks are 3D",
                         hint="give a 3D volume")
    if image.GetNumberOfComponentsPerPixel() != 1:
        raise InputError(f"the image has {image.GetNumberOfComponentsPerPixel()} components per voxel; the model "
                         "expects one channel", hint="give a single-channel (scalar) volume")
    array = sitk.GetArrayFromImage(image).astype(np.float32).transpose(2, 1, 0)  # z,y,x -> i,j,k
    direction = np.array(image.GetDirection()).reshape(3, 3)
    affine = np.eye(4)
    affine[:3, :3] = direction @ np.diag(image.GetSpacing())
    affine[:3, 3] = image.GetOrigin()
    return MetaTensor(torch.from_numpy(np.ascontiguousarray(array))[None], affine=torch.from_numpy(LPS_TO_RAS @ affine))


def labels_to_image(labels: np.ndarray, reference: sitk.Image) -> sitk.Image:
    """A (i, j, k) label array on the reference image's grid, as a uint8 SimpleITK image."""
    image = sitk.GetImageFromArray(np.ascontiguousarray(labels.transpose(2, 1, 0)).astype(np.uint8))
    image.CopyInformation(reference)
    return image


# -- the bundle


def _network_config(settings: SegSettings, n_classes: int) -> dict:
    if settings.network == "unet":
        return {"_target_": "UNet", "spatial_dims": 3, "in_channels": 1, "out_channels": n_classes,
                "channels": list(settings.channels), "strides": [2] * (len(settings.channels) - 1),
                "num_res_units": 2, "norm": "batch"}
    return {"_target_": "SegResNet", "spatial_dims": 3, "in_channels": 1, "out_channels": n_classes,
            "init_filters": settings.channels[0], "blocks_down": [1, 2, 2, 4], "blocks_up": [1, 1, 1]}


def build_network(settings: SegSettings, n_classes: int):
    """The network, built from the bundle's own network_def (one definition for training and the bundle)."""
    from monai.bundle import ConfigParser

    return ConfigParser({"network_def": _network_config(settings, n_classes)}).get_parsed_content("network_def")


def _preprocessing_config(settings: SegSettings, *, with_label: bool = False) -> list[dict]:
    """The deterministic transforms of the bundle, on "image"; training applies the same ones to "image" and
    "label" (the label resampled as nearest neighbour, its intensity left alone) -- one definition for both."""
    keys = ["image", "label"] if with_label else "image"
    intensity = ({"_target_": "NormalizeIntensityd", "keys": "image", "nonzero": True, "channel_wise": True}
                 if settings.intensity == "zscore" else
                 {"_target_": "ScaleIntensityRanged", "keys": "image", "a_min": -1000, "a_max": 1000, "b_min": 0.0,
                  "b_max": 1.0, "clip": True})
    return [{"_target_": "LoadImaged", "keys": keys},
            {"_target_": "EnsureChannelFirstd", "keys": keys},
            {"_target_": "Orientationd", "keys": keys, "axcodes": "RAS"},
            {"_target_": "CropForegroundd", "keys": keys, "source_key": "image", "margin": 0, "allow_smaller": True,
             "select_fn": FOREGROUND[settings.intensity]},
            {"_target_": "Spacingd", "keys": keys, "pixdim": list(settings.spacing),
             "mode": ["bilinear", "nearest"] if with_label else "bilinear"},
            intensity]


def _parsed(transforms: list[dict]) -> list:
    """MONAI transforms from their bundle definitions, without the loading ones (the core passes tensors)."""
    from monai.bundle import ConfigParser

    kept = [t for t in transforms if t["_target_"] not in SKIPPED_TRANSFORMS]
    return ConfigParser({"transforms": kept}).get_parsed_content("transforms")


def inference_config(settings: SegSettings, n_classes: int) -> dict:
    return {
        "imports": ["$import torch"],
        "bundle_root": ".",
        "device": "$torch.device('cuda' if torch.cuda.is_available() else 'cpu')",
        "network_def": _network_config(settings, n_classes),
        "network": "$@network_def.to(@device)",
        "preprocessing": {"_target_": "Compose", "transforms": _preprocessing_config(settings)},
        "inferer": {"_target_": "SlidingWindowInferer", "roi_size": list(settings.patch), "sw_batch_size": 4,
                    "overlap": 0.5, "mode": "gaussian"},
    }


@dataclass
class Bundle:
    folder: Path
    network: Any
    preprocessing: list  # MONAI dictionary transforms on "image"
    inferer: Any
    metadata: dict
    labels: dict[str, str]
    spacing: tuple[float, ...] | None


def load_bundle(folder: str | Path, device: str = "cpu") -> Bundle:
    """A MONAI bundle folder (ours or a model-zoo one) ready for ``segment``; clear errors for a folder that
    lacks its config or weights."""
    import torch
    from monai.bundle import ConfigParser

    folder = Path(folder)
    if not folder.is_dir():
        raise InputError("model bundle folder not found", file=folder,
                         hint="give the folder written by `radiomics-workshop train-seg`, or a MONAI bundle")
    config_file = next((folder / "configs" / name for name in ("inference.json", "inference.yaml")
                        if (folder / "configs" / name).is_file()), None)
    if config_file is None:
        raise InputError("the bundle has no configs/inference.json", file=folder,
                         hint="a MONAI bundle holds configs/inference.json (or .yaml) and models/model.pt")
    weights = folder / "models" / "model.pt"
    if not weights.is_file():
        raise InputError("the bundle has no weights (models/model.pt)", file=folder,
                         hint="train it (radiomics-workshop train-seg) or download the bundle's weights")
    metadata_file = folder / "configs" / "metadata.json"
    metadata = json.loads(metadata_file.read_text()) if metadata_file.is_file() else {}
    parser = ConfigParser()
    parser.read_config(str(config_file))
    parser["bundle_root"] = str(folder)
    try:
        network = parser.get_parsed_content("network_def")
        preprocessing = parser.get_parsed_content("preprocessing")
        inferer = parser.get_parsed_content("inferer") if "inferer" in parser.config else None
    except Exception as exc:  # any config error of the bundle
        raise InputError(f"the bundle's config cannot be instantiated ({exc.__class__.__name__}: {exc})",
                         file=config_file) from None
    state = torch.load(str(weights), map_location="cpu", weights_only=True)
    if isinstance(state, dict) and isinstance(state.get("model"), dict):
        state = state["model"]
    try:
        network.load_state_dict(state)
    except RuntimeError as exc:
        raise InputError(f"models/model.pt does not fit the bundle's network_def ({str(exc)[:300]})",
                         file=weights) from None
    network = network.to(torch_device(device)).eval()
    transforms = [t for t in getattr(preprocessing, "transforms", [preprocessing])
                  if type(t).__name__ not in SKIPPED_TRANSFORMS]
    labels = bundle_label_names(metadata) or metadata.get("labels") or {"0": "background", "1": "foreground"}
    spacing = metadata.get("radiomics_workshop", {}).get("spacing")
    return Bundle(folder, network, transforms, inferer, metadata, {str(k): v for k, v in labels.items()},
                  tuple(spacing) if spacing else None)


# -- inference


def segment(bundle: Bundle, image: sitk.Image, *, tta: bool = False, postprocess: bool = True,
            warn=logger.warning) -> sitk.Image:
    """The bundle's segmentation of ``image`` as a uint8 label map on the image's own grid."""
    import torch
    from monai.inferers import SlidingWindowInferer
    from monai.transforms import Compose, FillHoles, KeepLargestConnectedComponent

    tensor = to_meta_tensor(image)  # refuses what is not a 3D single-channel volume
    if bundle.spacing is not None:
        ratio = np.array(image.GetSpacing()) / np.array(bundle.spacing)
        if np.any(ratio > 4) or np.any(ratio < 0.25):
            warn(f"the image's voxel size {np.round(image.GetSpacing(), 2).tolist()} mm is far from the training "
                 f"data's {list(bundle.spacing)} mm: the segmentation may be poor")
    if not sitk.GetArrayViewFromImage(image).any():
        raise InputError("the image is empty (every voxel is 0)", hint="check the image file")
    try:
        data = Compose(bundle.preprocessing)({"image": tensor})
    except RuntimeError as exc:  # MONAI wraps the failing transform's error
        raise InputError(f"the bundle's preprocessing fails on this image ({str(exc).splitlines()[0][:200]})",
                         hint="is it the kind of image the model was trained on?") from None
    network_input = data["image"]
    device = next(bundle.network.parameters()).device
    inferer = bundle.inferer or SlidingWindowInferer(roi_size=[96, 96, 96], overlap=0.5, mode="gaussian")
    with torch.inference_mode():
        batch = network_input.as_tensor()[None].to(device)
        if batch.shape[1] != _in_channels(bundle.network):
            raise InputError(f"the model expects {_in_channels(bundle.network)} input channel(s), the preprocessed "
                             f"image has {batch.shape[1]}", hint="use a model trained on this kind of image")
        logits = inferer(batch, bundle.network)
        if tta:  # average the softmax over mirrored copies
            probability = torch.softmax(logits, 1)
            for axes in ((2,), (3,), (4,)):
                probability += torch.softmax(inferer(torch.flip(batch, axes), bundle.network), 1).flip(axes)
            logits = probability / 4
        labels = logits.argmax(1).cpu().to(torch.float32)  # (1, i, j, k) on the network's grid
    # Back onto the input's grid: MONAI inverts the preprocessing recorded on the image (nearest neighbour).
    from monai.data import MetaTensor
    from monai.transforms import Invertd

    data["pred"] = MetaTensor(labels, affine=network_input.affine)
    inverted = Invertd(keys="pred", transform=Compose(bundle.preprocessing), orig_keys="image",
                       nearest_interp=True)(data)["pred"]
    array = np.rint(np.asarray(inverted)[0]).astype(np.uint8)
    if postprocess and array.any():
        present = [int(v) for v in np.unique(array) if v]
        tensor = torch.from_numpy(array[None].astype(np.int64))
        tensor = KeepLargestConnectedComponent(applied_labels=present, independent=True)(tensor)
        tensor = FillHoles(applied_labels=present)(tensor)
        array = np.asarray(tensor)[0].astype(np.uint8)
    if not array.any():
        warn("the model found nothing in this image (empty segmentation)")
    if array.shape != image.GetSize():
        raise InputError(f"the inverted prediction has shape {array.shape}, the image {image.GetSize()}",
                         hint="the bundle's preprocessing is not invertible")
    return labels_to_image(array, image)


def _in_channels(network) -> int:
    for module in network.modules():
        if hasattr(module, "in_channels") and isinstance(module.in_channels, int):
            return module.in_channels
    return 1


# -- training


def _case_data(case, *, with_label: bool = True) -> dict:
    from ..io.images import read_case_image, read_label_map

    try:
        image, series = read_case_image(case.image, case_id=case.case_id, series=case.series,
                                        mask=case.mask if with_label else None)
        data = {"image": to_meta_tensor(image), "case_id": case.case_id}
        if with_label:
            mask, _ = read_label_map(case.mask, case_id=case.case_id, image=image, series=series, rois=case.rois)
            if mask.GetSize() != image.GetSize() or not np.allclose(mask.GetSpacing(), image.GetSpacing(), atol=1e-4):
                raise InputError("the mask's voxel grid differs from the image's", case_id=case.case_id,
                                 file=case.mask, hint="resample the mask onto the image first")
            data["label"] = to_meta_tensor(sitk.Cast(mask, sitk.sitkUInt8))
    except InputError as exc:
        raise exc.with_context(case_id=case.case_id)
    return data


def _train_transforms(settings: SegSettings, n_classes: int):
    from monai import transforms as T

    keys = ["image", "label"]
    deterministic = _parsed(_preprocessing_config(settings, with_label=True)) + [
        T.SpatialPadd(keys, spatial_size=settings.patch)]
    random = [T.RandCropByPosNegLabeld(keys, label_key="label", spatial_size=settings.patch, pos=2, neg=1,
                                       num_samples=2),
              T.RandFlipd(keys, prob=0.5, spatial_axis=0), T.RandFlipd(keys, prob=0.5, spatial_axis=1),
              T.RandFlipd(keys, prob=0.5, spatial_axis=2),
              T.RandRotated(keys, range_x=0.0, range_y=0.0, range_z=0.3, prob=0.3, mode=("bilinear", "nearest"),
                            padding_mode="border"),
              T.RandScaleIntensityd("image", factors=0.1, prob=0.5), T.RandShiftIntensityd("image", offsets=0.1, prob=0.5)]
    if settings.elastic:
        random.append(T.Rand3DElasticd(keys, sigma_range=(5, 8), magnitude_range=(50, 150), prob=0.2,
                                       mode=("bilinear", "nearest")))
    return T.Compose(deterministic), T.Compose(deterministic + random)


def _split(cases: list, validation_cases: list | None, settings: SegSettings) -> tuple[list, list]:
    """Training and validation cases: ``validation_cases``, or a seeded fraction of ``cases`` held out."""
    if validation_cases is None:
        order = np.random.default_rng(settings.seed).permutation(len(cases))
        n_val = max(1, int(round(len(cases) * settings.validation_fraction)))
        validation_cases = [cases[i] for i in order[:n_val]]
        cases = [cases[i] for i in order[n_val:]]
    if len(cases) < 2:
        raise InputError(f"{len(cases)} training case(s): too few to train a network", hint="give more cases")
    return cases, validation_cases


@dataclass
class TrainSegResult:
    folder: Path
    best_dice: float
    epochs: int
    history: list[dict]
    seconds: float
    resumed_from: int
    threads: int = 0  # torch's threads while it trained


def _training_data(cases: list, validation_cases: list, settings: SegSettings, n_classes: int):
    """The training loader (cached, augmented crops), the validation items (whole images) and the training
    images' voxel sizes."""
    from monai.data import CacheDataset, DataLoader

    train_items = [_case_data(c) for c in cases]
    val_items = [_case_data(c) for c in validation_cases]
    spacings = np.array([np.abs(np.diag(np.asarray(item["image"].affine)[:3, :3])) for item in train_items])
    deterministic, augmenting = _train_transforms(settings, n_classes)
    train_loader = DataLoader(CacheDataset(train_items, augmenting, progress=False),
                              batch_size=settings.batch_size, shuffle=True, num_workers=0)
    val_data = [deterministic({k: v for k, v in item.items()}) for item in val_items]
    return train_loader, val_data, spacings


def train_segmentation(cases: list, out: str | Path, settings: SegSettings, *, device: str = "auto",
                       overwrite: bool = False, progress=None, validation_cases: list | None = None,
                       jobs: int | None = None) -> TrainSegResult:
    """Train a segmentation network on image/mask pairs and write a MONAI bundle.

    A fraction of the cases (or ``validation_cases``) is held out to pick the best epoch by mean Dice;
    training stops early after ``patience`` epochs without improvement. A checkpoint is written after every
    epoch (``checkpoint.pt`` in the bundle folder): the same command resumes an interrupted training.
    ``jobs``: the cores torch, ITK and BLAS may use (``--jobs``); None leaves each library its default."""
    import torch
    from monai.inferers import SlidingWindowInferer
    from monai.losses import DiceCELoss
    from monai.metrics import DiceMetric
    from monai.utils import set_determinism

    from ..deep.training import fit
    from ..io.threads import thread_budget

    with thread_budget(jobs, torch=True):
        settings.check()
        start = time.monotonic()
        folder = Path(out)
        checkpoint_file = folder / "checkpoint.pt"
        if (folder / "models" / "model.pt").exists() and not checkpoint_file.exists() and not overwrite:
            raise OutputExistsError("the bundle folder holds a trained model", file=folder,
                                    hint="pass --overwrite or choose another --out")
        set_determinism(seed=settings.seed)
        n_classes = len(settings.labels)
        cases, validation_cases = _split(cases, validation_cases, settings)
        train_loader, val_data, spacings = _training_data(cases, validation_cases, settings, n_classes)
        dev = torch_device(device)
        network = build_network(settings, n_classes).to(dev)
        optimizer = torch.optim.AdamW(network.parameters(), lr=settings.learning_rate, weight_decay=1e-5)
        loss_function = DiceCELoss(to_onehot_y=True, softmax=True)
        dice_metric = DiceMetric(include_background=False, reduction="mean")
        inferer = SlidingWindowInferer(roi_size=settings.patch, sw_batch_size=4, overlap=0.25, mode="gaussian")
        # A checkpoint resumes when everything but the stopping rules (epochs, patience) is the same.
        signature = {k: v for k, v in asdict(settings).items() if k not in ("epochs", "patience")}
        signature["cases"] = [str(c.case_id) for c in cases] + ["|"] + [str(c.case_id) for c in validation_cases]
        folder.mkdir(parents=True, exist_ok=True)

        def loss_fn(batch):
            return loss_function(network(batch["image"].to(dev)), batch["label"].to(dev)), len(batch["image"])

        def validation_dice() -> float:
            with torch.inference_mode():
                for item in val_data:
                    logits = inferer(item["image"][None].to(dev), network)
                    prediction = torch.nn.functional.one_hot(logits.argmax(1), n_classes).permute(0, 4, 1, 2, 3)
                    truth = torch.nn.functional.one_hot(item["label"][None, 0].long().to(dev), n_classes)
                    truth = truth.permute(0, 4, 1, 2, 3)
                    dice_metric(prediction, truth)
            dice = float(dice_metric.aggregate())
            dice_metric.reset()
            return dice

        def started(first_epoch: int) -> None:
            if progress is not None:
                progress.start(settings.epochs, f"{len(cases)} training, {len(validation_cases)} validation case(s)")
                for _ in range(first_epoch):
                    progress.advance("resumed", skipped=True)

        def epoch_done(record: dict) -> None:
            if progress is not None:
                progress.advance(f"epoch {record['epoch']}: loss {record['loss']:.3f}, "
                                 f"validation Dice {record['validation_dice']:.3f}")

        run = fit(network, optimizer, train_loader, loss_fn=loss_fn, evaluate=validation_dice,
                  epochs=settings.epochs, patience=settings.patience, metric="validation_dice", higher_is_better=True,
                  signature=signature, checkpoint=checkpoint_file, resume=not overwrite, on_start=started,
                  on_epoch=epoch_done)
        write_bundle(folder, run.best_state, settings, n_classes, run.history, spacings.mean(axis=0).tolist(),
                     len(cases), threads=run.threads)
        checkpoint_file.unlink(missing_ok=True)
        best_dice = max((h["validation_dice"] for h in run.history), default=-1.0)
        epochs_run = run.history[-1]["epoch"] if run.history else run.first_epoch
        return TrainSegResult(folder, best_dice, epochs_run, run.history, time.monotonic() - start, run.first_epoch,
                              run.threads)


def write_bundle(folder: Path, state: dict, settings: SegSettings, n_classes: int, history: list[dict],
                 training_spacing: list[float], n_training: int, *, threads: int = 0) -> Path:
    """models/model.pt, configs/inference.json and configs/metadata.json (MONAI bundle layout)."""
    import monai
    import torch

    from ..io.tables import atomic_target, write_json

    (folder / "models").mkdir(parents=True, exist_ok=True)
    tmp = atomic_target(folder / "models" / "model.pt")
    torch.save(state, tmp)
    tmp.replace(folder / "models" / "model.pt")
    write_json(inference_config(settings, n_classes), folder / "configs" / "inference.json")
    best = max(history, key=lambda h: h["validation_dice"]) if history else {}
    metadata = {
        "version": "0.1.0", "monai_version": monai.__version__, "pytorch_version": torch.__version__.split("+")[0],
        "name": f"RadiomicsWorkshop {settings.network} segmentation",
        "task": "3D segmentation", "description": "Trained with radiomics-workshop train-seg",
        "network_data_format": {
            "inputs": {"image": {"type": "image", "format": "magnitude", "num_channels": 1,
                                 "spatial_shape": list(settings.patch), "dtype": "float32"}},
            "outputs": {"pred": {"type": "image", "format": "segmentation", "num_channels": n_classes,
                                 "spatial_shape": list(settings.patch), "dtype": "float32",
                                 "channel_def": settings.labels}}},
        "radiomics_workshop": {"settings": asdict(settings), "spacing": list(settings.spacing),
                               "training_image_spacing": training_spacing, "training_cases": n_training,
                               "best_epoch": best.get("epoch"), "best_validation_dice": best.get("validation_dice"),
                               "history": history, "threads": threads},
    }
    write_json(metadata, folder / "configs" / "metadata.json")
    return folder
