"""What a deep-feature extraction is made of: the network, its weights, the crop around the ROI; recorded with
the table, and its digest names the cached network and the table's provenance."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass

from ..io.provenance import file_digest


@dataclass
class DeepSettings:
    model: str = "resnet18"
    weights: str = "pretrained"
    layer: str | None = None
    modality: str = "MR"
    margin_mm: float = 10.0
    context_slices: int = 0
    patch_mm: float | None = None
    patch_spacing_mm: float = 1.0
    batch_size: int = 32
    device: str = "cpu"
    seed: int = 0
    precision: str = "float32"

    def digest(self) -> str:
        payload = {k: v for k, v in asdict(self).items() if k not in ("batch_size", "device")}
        if payload["weights"] not in ("pretrained", "random"):
            payload["weights"] = file_digest(payload["weights"])  # the numbers depend on the file's content
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]
