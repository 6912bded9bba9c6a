"""Deep features: a pretrained CNN applied at the ROI, global-average pooled (transfer learning).

Backbones are MONAI networks (no torchvision): 2D ImageNet-style networks
applied slice by slice around the ROI (1 channel replicated to 3, or 2.5D:
neighbouring slices as channels), and 3D networks applied to a cube centred on
the ROI in physical space (MedicalNet-style ResNets; FMCIB's ResNet-50 with
widen_factor 2: a 50 mm cube at 1 mm, 4096 features). MONAI's 2D ResNet with a
stride-2 7x7 stem has torchvision's layout and parameter names, so torchvision
ImageNet state dicts load as they are.

Weights come from a file, from MONAI's own loader when the user asks for
``pretrained`` (network needed; never silently), or are random only when asked
for explicitly (``random``, for tests). Columns: ``deep_<model>_<k>`` (mean over
the ROI's slices) and, for 2D, ``deep_<model>-max_<k>``.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import SimpleITK as sitk

from ..io.errors import InputError, SettingsError
from .device import torch_device
from .names import MONAI_NAMES, canonical_name

logger = logging.getLogger(__name__)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class Backbone:
    name: str
    dims: int  # 2: slice-wise, 3: patch
    in_channels: int
    layer: str  # module whose output is global-average pooled
    build: Callable[..., Any]
    input_size: tuple[int, ...]
    description: str


def _resnet(depth: int, dims: int, channels: int, **extra):
    def build(pretrained: bool = False):
        from monai.networks import nets

        factory = getattr(nets, f"resnet{depth}")
        options = dict(spatial_dims=dims, n_input_channels=channels, num_classes=1000 if dims == 2 else 1,
                       conv1_t_size=7, conv1_t_stride=2, **extra)
        if pretrained:
            options.update(pretrained=True, feed_forward=False)
        return factory(**options)
    return build


def _densenet121(pretrained: bool = False):
    from monai.networks.nets import DenseNet121

    if pretrained:
        raise SettingsError("MONAI has no downloader for 2D ImageNet DenseNet-121 weights",
                            hint="pass a weights file (a torchvision-style state dict) with --weights FILE")
    return DenseNet121(spatial_dims=2, in_channels=3, out_channels=1000)


def _efficientnet_b0(pretrained: bool = False):
    from monai.networks.nets import EfficientNetBN

    return EfficientNetBN(MONAI_NAMES["efficientnet_b0"], pretrained=pretrained, spatial_dims=2, in_channels=3, num_classes=1000)


BACKBONES = {b.name: b for b in [
    Backbone("resnet18", 2, 3, "avgpool", _resnet(18, 2, 3), (224, 224), "ResNet-18, 2D, ImageNet layout (512)"),
    Backbone("resnet50", 2, 3, "avgpool", _resnet(50, 2, 3), (224, 224), "ResNet-50, 2D, ImageNet layout (2048)"),
    Backbone("densenet121", 2, 3, "class_layers.pool", _densenet121, (224, 224), "DenseNet-121, 2D (1024)"),
    Backbone("efficientnet_b0", 2, 3, "_avg_pooling", _efficientnet_b0, (224, 224), "EfficientNet-B0, 2D (1280)"),
    Backbone("resnet18_3d", 3, 1, "avgpool", _resnet(18, 3, 1, shortcut_type="A"), (64, 64, 64),
             "ResNet-18, 3D, MedicalNet layout (512)"),
    Backbone("resnet50_3d", 3, 1, "avgpool", _resnet(50, 3, 1, shortcut_type="B"), (64, 64, 64),
             "ResNet-50, 3D, MedicalNet layout (2048)"),
    Backbone("fmcib", 3, 1, "avgpool", _resnet(50, 3, 1, widen_factor=2), (50, 50, 50),
             "FMCIB foundation model: ResNet-50 x2 width, 50 mm cube at 1 mm (4096)"),
]}


def backbone(name: str) -> Backbone:
    name = canonical_name(name)
    if name not in BACKBONES:
        raise SettingsError(f"unknown model '{name}'", hint=f"choose one of: {', '.join(BACKBONES)}")
    return BACKBONES[name]


def load_state_dict(path: str | Path) -> dict:
    import torch

    path = Path(path)
    if not path.is_file():
        raise InputError("weights file not found", file=path,
                         hint="give the path of a saved state dict, or --weights pretrained to let MONAI download "
                              "them (needs a network), e.g. radiomics-workshop deep-features --model resnet18_3d "
                              "--weights pretrained ...")
    try:
        state = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several kinds for corrupt files
        raise InputError(f"weights file cannot be read ({exc.__class__.__name__}: {str(exc)[:200]})", file=path,
                         hint="save the weights with torch.save(model.state_dict(), path)") from None
    for key in ("state_dict", "model", "net"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    return {k.removeprefix("module."): v for k, v in state.items()}


def build_model(name: str, weights: Any, *, seed: int = 0):
    """The network with its weights: a file, "pretrained" (MONAI downloads), "random" (seeded),
    or a model already in memory (e.g. one just fine-tuned)."""
    import torch

    spec = backbone(name)
    if isinstance(weights, torch.nn.Module):
        return weights.eval()
    if str(weights) == "random":
        torch.manual_seed(seed)
        model = spec.build()
    elif str(weights) == "pretrained":
        try:
            model = spec.build(pretrained=True)
        except SettingsError:
            raise
        except Exception as exc:  # network errors, missing hub packages
            raise InputError(f"MONAI could not download pretrained weights for {name} ({exc})",
                             hint="check the network, or download the weights elsewhere and pass --weights FILE")
    else:
        model = spec.build()
        state = load_state_dict(weights)
        own = model.state_dict()
        missing = [k for k in own if k not in state]
        unexpected = [k for k in state if k not in own]
        wrong = [k for k in own if k in state and tuple(state[k].shape) != tuple(own[k].shape)]
        missing = [k for k in missing if not k.startswith(("fc.", "class_layers.out", "_fc."))]  # heads are unused
        if missing or wrong or len(unexpected) > 10:
            details = "; ".join(filter(None, [
                f"missing {len(missing)} (e.g. {', '.join(missing[:3])})" if missing else "",
                f"wrong shape {len(wrong)} (e.g. {', '.join(wrong[:3])})" if wrong else "",
                f"unexpected {len(unexpected)} (e.g. {', '.join(unexpected[:3])})" if unexpected else ""]))
            raise InputError(f"weights do not fit the {name} network: {details}", file=weights,
                             hint=f"use weights saved from a {spec.description} model")
        model.load_state_dict(state, strict=False)
    return model.eval()


class _PooledLayer:
    """Forward hook: global-average pool the output of one module."""

    def __init__(self, model, layer: str) -> None:
        modules = dict(model.named_modules())
        if layer not in modules:
            raise SettingsError(f"the network has no layer '{layer}'",
                                hint=f"layers: {', '.join(n for n in modules if n and '.' not in n)}")
        self.output = None
        modules[layer].register_forward_hook(self)

    def __call__(self, module, inputs, output) -> None:
        self.output = output.flatten(2).mean(-1) if output.dim() > 2 else output


def _bbox(mask_array: np.ndarray) -> tuple[slice, ...]:
    """Bounding box of the non-zero voxels, from per-axis projections (np.nonzero of a CT volume is slow)."""
    box = []
    for axis in range(mask_array.ndim):
        others = tuple(a for a in range(mask_array.ndim) if a != axis)
        where = np.flatnonzero(mask_array.any(axis=others))
        box.append(slice(int(where[0]), int(where[-1]) + 1))
    return tuple(box)


def _intensity_window(modality: str, reference: np.ndarray) -> tuple[float, float]:
    """CT: a -1000..1000 HU window; MR: 0.5-99.5 percentiles of the reference region."""
    if modality == "CT":
        return -1000.0, 1000.0
    low, high = np.percentile(reference, [0.5, 99.5])
    return low, (high if high > low else low + 1.0)  # numpy float64: the scaling is done in double


class DeepFeatureExtractor:
    """Deep features of ROIs with one backbone; ``features(image, mask, label)`` -> dict of floats."""

    def __init__(self, model: str = "resnet18", weights: str | Path = "pretrained", *, device: str = "cpu",
                 layer: str | None = None, batch_size: int = 32, modality: str = "MR", margin_mm: float = 10.0,
                 context_slices: int = 0, patch_mm: float | None = None, patch_spacing_mm: float = 1.0,
                 seed: int = 0, precision: str = "float32") -> None:
        import torch

        self.spec = backbone(model)
        self.device = torch_device(device)
        self.model = build_model(model, weights, seed=seed).to(self.device)
        if self.spec.dims == 2:  # NHWC convolutions are ~25% faster on CPU, and on GPU too
            self.model = self.model.to(memory_format=torch.channels_last)
        self.hook = _PooledLayer(self.model, layer or self.spec.layer)
        self.batch_size = batch_size
        self.modality = modality.upper()
        self.margin_mm = margin_mm
        self.context_slices = context_slices  # 2.5D: k neighbours on each side as channels
        self.patch_mm = patch_mm or float(self.spec.input_size[0]) * patch_spacing_mm
        self.patch_spacing_mm = patch_spacing_mm
        self.torch = torch
        if precision not in ("float32", "bfloat16", "float16"):
            raise SettingsError(f"precision must be float32, bfloat16 or float16, not '{precision}'")
        # Reduced precision (autocast) is several times faster on GPUs and on CPUs with AMX/AVX512-BF16;
        # features then agree with float32 to about 1e-2 relative, so it is opt-in.
        self.precision = precision

    # -- inputs

    def slices_2d(self, image: sitk.Image, mask: sitk.Image, label: int) -> np.ndarray:
        """Network inputs (n, 3, 224, 224) for every slice holding the ROI (bounding box + margin)."""
        import torch
        import torch.nn.functional as F

        roi_full = sitk.GetArrayViewFromImage(mask) == label
        if not roi_full.any():
            raise InputError(f"ROI label {label} is empty")
        box = _bbox(roi_full)
        depth, height, width = roi_full.shape
        spacing = image.GetSpacing()  # x, y, z
        margin = [int(round(self.margin_mm / spacing[1])), int(round(self.margin_mm / spacing[0]))]
        rows = slice(max(box[1].start - margin[0], 0), min(box[1].stop + margin[0], height))
        cols = slice(max(box[2].start - margin[1], 0), min(box[2].stop + margin[1], width))
        k = self.context_slices
        first, last = max(box[0].start - k, 0), min(box[0].stop + k, depth)
        # Only the slab around the ROI is read and converted (a whole CT volume costs ~100 ms per ROI).
        slab = sitk.GetArrayFromImage(image[cols.start:cols.stop, rows.start:rows.stop, first:last])
        slab = slab.astype(np.float32, copy=False)
        roi = roi_full[first:last, rows, cols]
        reference = slab[box[0].start - first:box[0].stop - first]
        low, high = _intensity_window(self.modality, reference)
        scaled = np.clip((slab - low) / (high - low), 0.0, 1.0).astype(np.float32)
        stacks = []
        for z in range(box[0].start - first, box[0].stop - first):
            if not roi[z].any():
                continue
            if k:
                stacks.append(scaled[[min(max(z + d, 0), len(scaled) - 1) for d in (-k, 0, k)]])
            else:
                stacks.append(np.repeat(scaled[z][None], 3, axis=0))
        batch = torch.from_numpy(np.stack(stacks))
        batch = F.interpolate(batch, size=self.spec.input_size, mode="bilinear", align_corners=False)
        mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
        std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
        return ((batch - mean) / std).numpy()

    def patch_3d(self, image: sitk.Image, mask: sitk.Image, label: int) -> np.ndarray:
        """A world-aligned cube of ``patch_mm`` at ``patch_spacing_mm`` centred on the ROI's centroid (physical)."""
        stats = sitk.LabelShapeStatisticsImageFilter()
        stats.Execute(sitk.Cast(mask, sitk.sitkUInt32))
        if label not in stats.GetLabels():
            raise InputError(f"ROI label {label} is empty")
        centre = np.array(stats.GetCentroid(label))
        size = int(round(self.patch_mm / self.patch_spacing_mm))
        reference = sitk.Image([size] * 3, sitk.sitkFloat32)
        reference.SetSpacing([self.patch_spacing_mm] * 3)
        reference.SetOrigin(tuple(centre - (size - 1) / 2.0 * self.patch_spacing_mm))
        fill = -1024.0 if self.modality == "CT" else 0.0
        patch = sitk.Resample(sitk.Cast(image, sitk.sitkFloat32), reference, sitk.Transform(), sitk.sitkLinear, fill)
        values = sitk.GetArrayFromImage(patch)
        if self.modality == "CT":
            values = np.clip((values + 1024.0) / 3072.0, 0.0, 1.0)  # FMCIB's HU scaling
        else:
            values = (values - values.mean()) / (values.std() or 1.0)
        return values[None, None].astype(np.float32)

    # -- features

    def embed(self, inputs: np.ndarray) -> np.ndarray:
        """Pooled features of a stack of inputs, in batches."""
        torch = self.torch
        out = []
        autocast = (torch.autocast(self.device.type, dtype=getattr(torch, self.precision))
                    if self.precision != "float32" else contextlib.nullcontext())
        with torch.inference_mode(), autocast:
            for start in range(0, len(inputs), self.batch_size):
                batch = torch.from_numpy(inputs[start:start + self.batch_size]).to(self.device)
                if batch.dim() == 4:
                    batch = batch.contiguous(memory_format=torch.channels_last)
                self.model(batch)
                out.append(self.hook.output.float().cpu().numpy())
        return np.concatenate(out)

    def features(self, image: sitk.Image, mask: sitk.Image, label: int) -> dict[str, float]:
        name = self.spec.name
        if self.spec.dims == 3:
            vector = self.embed(self.patch_3d(image, mask, label))[0]
            return {f"deep_{name}_{k}": float(v) for k, v in enumerate(vector)}
        per_slice = self.embed(self.slices_2d(image, mask, label))
        result = {f"deep_{name}_{k}": float(v) for k, v in enumerate(per_slice.mean(axis=0))}
        result.update({f"deep_{name}-max_{k}": float(v) for k, v in enumerate(per_slice.max(axis=0))})
        return result
