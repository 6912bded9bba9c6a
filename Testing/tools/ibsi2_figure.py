"""Draw docs/images/ibsi2_filters.png: every IBSI-2 image type's response map on a sample case (one axial
slice through the ROI, the ROI's outline in red), with the settings the README's table names.

    .venv/bin/python Testing/tools/ibsi2_figure.py [--case lung2] [--out docs/images/ibsi2_filters.png]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "RadiomicsWorkshop"))

#: (title, image type, settings): one panel each, every IBSI-2 image type at least once
PANELS = [
    ("mean, 5 voxels", "IBSIMean", {"support": 5}),
    ("LoG, sigma 2 mm", "IBSILoG", {"sigma": 2.0}),
    ("Laws L5E5E5 energy, invariant", "IBSILaws", {"kernel": "L5E5E5", "rotation_invariant": True,
                                                   "energy_distance": 7}),
    ("Gabor, sigma 5, lambda 4 mm, 8 orientations", "IBSIGabor", {"sigma": 5.0, "wavelength": 4.0, "gamma": 1.5,
                                                                  "theta_step": 45.0, "dimensions": 2}),
    ("wavelet db3 LLH, invariant", "IBSIWavelet", {"wavelet": "db3", "band": "LLH", "rotation_invariant": True}),
    ("wavelet haar HHH, level 2", "IBSIWavelet", {"wavelet": "haar", "band": "HHH", "level": 2}),
    ("Simoncelli, level 1", "IBSISimoncelli", {"level": 1}),
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--case", default="lung2")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "images" / "ibsi2_filters.png")
    args = parser.parse_args()

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    import SimpleITK as sitk
    from RadiomicsWorkshopLib.examples.sampledata import default_data_dir
    from RadiomicsWorkshopLib.features.ibsi2.image_types import filters

    folder = default_data_dir()
    image = sitk.ReadImage(str(folder / f"{args.case}_image.nrrd"))
    mask = sitk.GetArrayFromImage(sitk.ReadImage(str(folder / f"{args.case}_label.nrrd"))) > 0
    array, spacing = sitk.GetArrayFromImage(image).astype(float), tuple(image.GetSpacing())[::-1]
    z, y, x = (int(round(c)) for c in np.argwhere(mask).mean(axis=0))
    box = np.argwhere(mask[z])
    low, high = np.maximum(box.min(axis=0) - 40, 0), box.max(axis=0) + 40
    region = (slice(max(z - 12, 0), z + 13), slice(low[0], high[0]), slice(low[1], high[1]))  # margin for the filters
    crop, roi = array[region], mask[region]
    centre = z - region[0].start
    figure, axes = plt.subplots(2, 4, figsize=(14, 7.2))
    panels = [("original (CT, HU)", None)] + [(title, filters(t, s)[0]) for title, t, s in PANELS]
    for axis, (title, each) in zip(axes.ravel(), panels):
        shown = crop[centre] if each is None else each.apply(crop, spacing)[centre]
        low_value, high_value = np.percentile(shown, [1, 99])
        axis.imshow(shown, cmap="gray", vmin=low_value, vmax=high_value, interpolation="nearest")
        axis.contour(roi[centre], levels=[0.5], colors="red", linewidths=0.8)
        axis.set_title(title, fontsize=10)
        axis.set_xticks([])
        axis.set_yticks([])
    figure.suptitle(f"IBSI-2 filters on the sample case {args.case} (axial slice through the ROI; mirror boundary)")
    figure.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(args.out, dpi=72)
    print(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
