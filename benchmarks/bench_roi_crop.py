"""(b) All image types enabled: crop around the ROI before filtering vs plain PyRadiomics.

Baseline: ``RadiomicsFeatureExtractor(params).execute(image, mask)``, which
filters the whole image. Ours: ``execute_with_roi_crop`` (what extraction
uses). Same run, same cases, alternating. Prints per-case times (information),
the total ratio (must be >= 1.8) and the largest relative deviation per image
type (must be <= 0.1%; types on the exact path are marked).
LBP3D is enabled too, but PyRadiomics 3.0.1 skips it unless `trimesh` is
installed (and it keeps the exact path anyway).
"""

from __future__ import annotations

import argparse
import logging
import sys

from common import CASES, case_paths, timed

RATIO_LIMIT = 1.8
DEVIATION_LIMIT = 1e-3
PARAMS = {
    "imageType": {"Original": {}, "LoG": {"sigma": [1.0, 2.0, 3.0, 4.0, 5.0]}, "Wavelet": {}, "Square": {},
                  "SquareRoot": {}, "Logarithm": {}, "Exponential": {}, "Gradient": {}, "LBP2D": {}, "LBP3D": {}},
    "setting": {"binWidth": 25, "voxelArrayShift": 2000},
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", nargs="+", default=CASES)
    args = parser.parse_args()

    import radiomics
    import SimpleITK as sitk
    from radiomics import featureextractor

    from RadiomicsWorkshopLib.roi_crop import _image_type_of, execute_with_roi_crop, plan

    radiomics.setVerbosity(logging.ERROR)
    extractor = featureextractor.RadiomicsFeatureExtractor(PARAMS)
    order = list(PARAMS["imageType"])
    cropped, exact = plan(PARAMS["imageType"], extractor.settings)
    totals = [0.0, 0.0]
    worst: dict[str, float] = {}
    print(f"{'case':8s} {'PyRadiomics':>12s} {'ROI crop':>10s} {'ratio':>6s}")
    for name in args.cases:
        image_file, mask_file = case_paths(name)
        image, mask = sitk.ReadImage(str(image_file)), sitk.ReadImage(str(mask_file))
        base, full = timed(extractor.execute, image, mask)
        ours, result = timed(execute_with_roi_crop, extractor, image, mask)
        totals[0] += base
        totals[1] += ours
        print(f"{name:8s} {base:11.2f}s {ours:9.2f}s {base / ours:6.2f}")
        if list(result) != list(full):
            print(f"  keys differ for {name}")
            return 1
        for key, ref in full.items():
            if key.startswith("diagnostics_"):
                continue
            kind = order[_image_type_of(key, order)] if _image_type_of(key, order) < len(order) else "?"
            ref, value = float(ref), float(result[key])
            deviation = abs(value - ref) / abs(ref) if ref else abs(value)
            worst[kind] = max(worst.get(kind, 0.0), deviation)
    ratio = totals[0] / totals[1]
    print(f"total: PyRadiomics {totals[0]:.1f} s, ROI crop {totals[1]:.1f} s -> speed-up {ratio:.2f} "
          f"(limit >= {RATIO_LIMIT})")
    print("largest relative deviation per image type:")
    for kind in order:
        path = "exact path" if kind in exact else "cropped"
        print(f"  {kind:12s} {worst.get(kind, float('nan')):.2e}  ({path})" if kind in worst
              else f"  {kind:12s} (not computed by this PyRadiomics)")
    ok = ratio >= RATIO_LIMIT and all(v <= DEVIATION_LIMIT for v in worst.values())
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
