"""How networks are named in our commands: one spelling (Python identifiers, as in ``resnet18_3d``), used by
deep features, the end-to-end CNN and the Slicer module alike. No torch here: the command line reads it."""

from __future__ import annotations

#: The pretrained networks deep features are taken from (deep/embeddings.py builds each; a test checks that the
#: two agree): 2D networks applied slice by slice, then 3D ones applied to a cube.
DEEP_FEATURE_MODELS_2D = ("resnet18", "resnet50", "densenet121", "efficientnet_b0")
DEEP_FEATURE_MODELS_3D = ("resnet18_3d", "resnet50_3d", "fmcib")
DEEP_FEATURE_MODELS = DEEP_FEATURE_MODELS_2D + DEEP_FEATURE_MODELS_3D
#: Spellings accepted for compatibility, and the name they stand for.
ALIASES = {"efficientnet-b0": "efficientnet_b0"}
#: MONAI's own name of a network where it differs from ours (``monai.networks.nets.EfficientNetBN``'s model_name).
MONAI_NAMES = {"efficientnet_b0": "efficientnet-b0"}


def canonical_name(name: str) -> str:
    """Our spelling of a network's name (``efficientnet-b0`` -> ``efficientnet_b0``); other names unchanged."""
    return ALIASES.get(name, name)
