"""What an end-to-end CNN classifier is made of and how it is trained: the settings, recorded in its card.

No torch or MONAI here, so that the command line can offer the choices without importing them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from ..deep.names import canonical_name
from ..io.errors import SettingsError

#: The MONAI backbones a classifier can be trained on, by our names (deep/names.py).
BACKBONES = ("resnet10", "resnet18", "resnet34", "resnet50", "densenet121", "efficientnet_b0")
SCHEDULES = ("plateau", "cosine", "none")
INTENSITIES = ("zscore", "ct")


@dataclass
class CnnSettings:
    """Every field is recorded in the classifier's card."""

    dims: int = 2  # 2: ROI-centred slices (one prediction per slice, averaged per case); 3: one patch per case
    backbone: str = "resnet18"
    width: int = 64  # ResNet: channels of the first stage (64: the standard network; 16: a quick one on a CPU)
    crop: int = 64  # in-plane size (2D) or edge (3D) of the ROI-centred crop, voxels
    mask_channel: bool = False  # the ROI mask as a second input channel
    intensity: str = "zscore"  # zscore (per case, over the crop region) or ct (-1000..1000 HU to 0..1)
    epochs: int = 40
    batch_size: int = 16  # small batches: more updates per epoch on the small cohorts of a workshop
    learning_rate: float = 1e-3
    weight_decay: float = 1e-4
    patience: int = 8  # early stopping: epochs without a lower validation loss
    schedule: str = "plateau"  # learning rate: halve on a validation-loss plateau, cosine, or constant
    validation_fraction: float = 0.2  # patients of each training set held out for early stopping
    augment: bool = True  # flips, 90-degree rotations, small rotations, intensity scale and shift
    elastic: bool = False
    class_weights: bool = True  # loss weighted by inverse class frequency
    outer_folds: int = 5
    bootstrap: int = 1000
    seed: int = 0
    workers: int = 0  # DataLoader worker processes
    cache: bool = True  # MONAI CacheDataset: crops read once, not every epoch

    def check(self) -> "CnnSettings":
        if self.dims not in (2, 3):
            raise SettingsError(f"--dims must be 2 or 3, not {self.dims}")
        self.backbone = canonical_name(self.backbone)
        if self.backbone not in BACKBONES:
            raise SettingsError(f"unknown backbone '{self.backbone}'", hint=f"choose one of: {', '.join(BACKBONES)}")
        if self.schedule not in SCHEDULES:
            raise SettingsError(f"unknown schedule '{self.schedule}'", hint=f"choose one of: {', '.join(SCHEDULES)}")
        if self.intensity not in INTENSITIES:
            raise SettingsError(f"unknown intensity scaling '{self.intensity}'", hint="choose zscore or ct")
        for name in ("width", "crop", "epochs", "batch_size", "patience", "outer_folds"):
            if int(getattr(self, name)) < (2 if name == "outer_folds" else 1):
                raise SettingsError(f"--{name.replace('_', '-')} must be at least {2 if name == 'outer_folds' else 1}")
        if self.crop < 16:
            raise SettingsError(f"--crop {self.crop}: the networks downsample 16-32 times; use at least 16 voxels")
        if not 0 < self.validation_fraction < 0.5:
            raise SettingsError("the validation fraction lies in (0, 0.5)")
        if self.learning_rate <= 0:
            raise SettingsError("--lr must be positive")
        if self.workers < 0:
            raise SettingsError("--workers must be 0 or more")
        return self

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "CnnSettings":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})
