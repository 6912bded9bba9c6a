"""A generated, labelled cohort of 3D lesion phantoms, for demos and teaching.

PyRadiomics' five sample cases are too few to train and validate a model, so
the demo (and anyone learning the workflow) gets a cohort with a known answer:
small 3D images (40 x 40 x 20 voxels of 1 x 1 x 2 mm, a noisy background) each
holding one lesion. The two classes differ in what radiomics measures:

- ``fine``: round lesions (elongation 0.95-1.15) with a fine-grained interior
  texture (noise smoothed with sigma 0.6 voxels);
- ``coarse``: elongated lesions (elongation 1.5-1.9) with a coarse-grained
  interior (sigma 2 voxels).

Half the patients are "scanned" at site B, whose intensities are 1.3 x + 40 of
site A's (another scanner's scale: what normalisation or ComBat removes).
Classes alternate and sites alternate in pairs, so every site holds both
classes. Everything is seeded: the same seed gives the same files.

``kind="slices"`` gives a slice-wise (2D) cohort instead, for the end-to-end
CNN: a few thick slices (64 x 64 x 4 voxels of 1 x 1 x 3 mm) through a round
lesion of the same size distribution in both classes, whose only difference
is the in-plane grain of its interior (sigma 0.6 vs 2 voxels).
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np
import SimpleITK as sitk
from scipy import ndimage

from ..io.errors import OutputExistsError, SettingsError

CLASSES = ("fine", "coarse")
SITES = ("A", "B")
SHAPE = (20, 40, 40)  # z, y, x voxels
SPACING = (1.0, 1.0, 2.0)  # x, y, z mm
SLICES_SHAPE = (4, 64, 64)  # z, y, x voxels of the slice-wise cohort
SLICES_SPACING = (1.0, 1.0, 3.0)
KINDS = ("lesions", "slices")
DEFAULT_SEED = 2024
MANIFEST_COLUMNS = ["case_id", "image", "mask", "patient_id", "label", "site"]


def lesion_phantom(rng: np.random.Generator, coarse: bool, site: str = "A") -> tuple[sitk.Image, sitk.Image]:
    """One phantom: a float32 image (1 x 1 x 2 mm) and its uint8 lesion mask (label 1) on the same grid."""
    if site not in SITES:
        raise SettingsError(f"unknown site '{site}'", hint=f"choose one of {', '.join(SITES)}")
    z, y, x = np.meshgrid(*[np.arange(n, dtype=float) for n in SHAPE], indexing="ij")
    radius = rng.uniform(7, 10)
    elongation = rng.uniform(1.5, 1.9) if coarse else rng.uniform(0.95, 1.15)
    angle = rng.uniform(0, np.pi)
    dx, dy, dz = x - 20 + rng.uniform(-2, 2), y - 20 + rng.uniform(-2, 2), (z - 10) * SPACING[2]
    u = dx * np.cos(angle) + dy * np.sin(angle)
    v = -dx * np.sin(angle) + dy * np.cos(angle)
    mask = (u / (radius * elongation)) ** 2 + (v / (radius / np.sqrt(elongation))) ** 2 + (dz / radius) ** 2 <= 1
    grain = ndimage.gaussian_filter(rng.normal(size=SHAPE), sigma=2.0 if coarse else 0.6)
    grain /= grain.std()
    image = rng.normal(100, 10, size=SHAPE)
    image[mask] = rng.uniform(180, 220) + 45 * grain[mask]
    if site == "B":
        image = image * 1.3 + 40  # another scanner's intensity scale
    out = sitk.GetImageFromArray(image.astype(np.float32))
    out.SetSpacing(SPACING)
    label = sitk.GetImageFromArray(mask.astype(np.uint8))
    label.CopyInformation(out)
    return out, label


def slice_phantom(rng: np.random.Generator, coarse: bool, site: str = "A") -> tuple[sitk.Image, sitk.Image]:
    """One slice-wise phantom: thick slices through a round lesion whose classes differ in texture only."""
    if site not in SITES:
        raise SettingsError(f"unknown site '{site}'", hint=f"choose one of {', '.join(SITES)}")
    depth, height, width = SLICES_SHAPE
    y, x = np.meshgrid(np.arange(height, dtype=float), np.arange(width, dtype=float), indexing="ij")
    cy, cx = height / 2 + rng.uniform(-4, 4), width / 2 + rng.uniform(-4, 4)
    radii = rng.uniform(10, 14) * rng.uniform(0.85, 1.0, size=depth)  # a lesion tapering over the slices
    mask = np.stack([(y - cy) ** 2 + (x - cx) ** 2 <= r ** 2 for r in radii])
    grain = ndimage.gaussian_filter(rng.normal(size=SLICES_SHAPE), sigma=(0, 2.0, 2.0) if coarse else (0, 0.6, 0.6))
    grain /= grain.std()
    image = rng.normal(100, 10, size=SLICES_SHAPE)
    image[mask] = rng.uniform(180, 220) + 45 * grain[mask]
    if site == "B":
        image = image * 1.3 + 40
    out = sitk.GetImageFromArray(image.astype(np.float32))
    out.SetSpacing(SLICES_SPACING)
    label = sitk.GetImageFromArray(mask.astype(np.uint8))
    label.CopyInformation(out)
    return out, label


def write_phantom_cohort(dest: str | Path, n: int = 40, *, seed: int = DEFAULT_SEED,
                         manifest: str | Path | None = None, overwrite: bool = False, kind: str = "lesions") -> Path:
    """Write ``n`` phantoms (``lesionNN.nrrd``, ``lesionNN_label.nrrd``) into ``dest`` and a manifest
    (``case_id,image,mask,patient_id,label,site``; paths relative to it; default ``dest/manifest.csv``).

    Returns the manifest's path. An existing manifest is not replaced without ``overwrite``. ``kind``:
    ``lesions`` (3D lesions, texture and shape differ) or ``slices`` (slice-wise, texture only).
    """
    if kind not in KINDS:
        raise SettingsError(f"unknown phantom kind '{kind}'", hint=f"choose one of {', '.join(KINDS)}")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 4:
        raise SettingsError(f"--phantoms {n}: generate at least 4 phantoms (two per class)",
                            hint="for a model with 5-fold cross-validation, 40 or more")
    dest = Path(dest)
    manifest = Path(manifest) if manifest is not None else dest / "manifest.csv"
    if manifest.exists() and not overwrite:
        raise OutputExistsError("manifest exists", file=manifest, hint="pass --overwrite or choose another --manifest")
    if dest.exists() and not dest.is_dir():
        raise SettingsError("--dest is a file, not a folder", hint="give a folder for the phantoms")
    dest.mkdir(parents=True, exist_ok=True)
    manifest.parent.mkdir(parents=True, exist_ok=True)
    rel = Path(os.path.relpath(dest.resolve(), manifest.resolve().parent))
    rng = np.random.default_rng(seed)
    width = max(2, len(str(n - 1)))
    rows = []
    for i in range(n):
        coarse, site = i % 2 == 1, SITES[(i // 2) % 2]
        image, mask = (lesion_phantom if kind == "lesions" else slice_phantom)(rng, coarse, site)
        name = f"{'lesion' if kind == 'lesions' else 'slices'}{i:0{width}d}"
        sitk.WriteImage(image, str(dest / f"{name}.nrrd"), True)
        sitk.WriteImage(mask, str(dest / f"{name}_label.nrrd"), True)
        rows.append([name, (rel / f"{name}.nrrd").as_posix(), (rel / f"{name}_label.nrrd").as_posix(),
                     f"P{i:0{width}d}", CLASSES[int(coarse)], site])
    tmp = manifest.with_name(f".{manifest.name}.tmp")
    with open(tmp, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(MANIFEST_COLUMNS)
        writer.writerows(rows)
    os.replace(tmp, manifest)
    return manifest
