"""How a segmentation network is built and trained: the settings, recorded in its bundle.

No torch or MONAI here, so that the command line can offer the choices without importing them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..io.errors import SettingsError

NETWORKS = ("unet", "segresnet")
INTENSITIES = ("zscore", "ct")


@dataclass
class SegSettings:
    network: str = "unet"  # unet or segresnet
    spacing: tuple[float, float, float] = (1.0, 1.0, 1.0)  # mm, the network's voxel size
    patch: tuple[int, int, int] = (48, 48, 32)  # training crops and sliding-window ROI (voxels)
    intensity: str = "zscore"  # zscore (MR) or ct (-1000..1000 HU to 0..1)
    channels: tuple[int, ...] = (16, 32, 64, 128)
    epochs: int = 50
    batch_size: int = 2
    learning_rate: float = 2e-3
    patience: int = 15  # early stopping: epochs without a better validation Dice
    validation_fraction: float = 0.2
    elastic: bool = False
    seed: int = 0
    labels: dict[str, str] = field(default_factory=lambda: {"0": "background", "1": "lesion"})

    def check(self) -> "SegSettings":
        if self.network not in NETWORKS:
            raise SettingsError(f"unknown network '{self.network}'", hint=f"choose one of: {', '.join(NETWORKS)}")
        if self.intensity not in INTENSITIES:
            raise SettingsError(f"unknown intensity scaling '{self.intensity}'", hint=f"choose one of: {', '.join(INTENSITIES)}")
        if any(p % 8 for p in self.patch):
            raise SettingsError(f"patch {list(self.patch)}: each size must be a multiple of 8 (three poolings)")
        self.spacing, self.patch, self.channels = tuple(self.spacing), tuple(self.patch), tuple(self.channels)
        return self
