"""The torch device that deep features, the CNN and segmentation run on."""

from __future__ import annotations

from ..io.errors import SettingsError


def torch_device(requested: str):
    """cpu, cuda or auto (cuda when torch sees a GPU) as a torch.device; cuda without a GPU is an error."""
    import torch

    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if requested == "cuda" and not torch.cuda.is_available():
        raise SettingsError("--device cuda, but no CUDA GPU is visible to torch", hint="use --device cpu or auto")
    return torch.device(requested)
