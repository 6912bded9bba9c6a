"""All image types enabled: filter around the ROI (ours) vs PyRadiomics filtering the whole image.

Baseline: ``RadiomicsFeatureExtractor(PARAMS).execute(image, mask)``. Ours:
``roi_crop.execute_with_roi_crop(extractor, image, mask)`` (what extraction
uses). Same run, same in-memory images, alternating order per repeat, after a
warm-up of both on breast1 (imports). Prints per-case median times
(information), the total ratio baseline/ours over the cases (pass: >= 1.8),
and the largest relative deviation from the baseline per image type across
cases (pass: every feature within ``1e-9 + 1e-3 * |baseline|``, same keys in
the same order, identical diagnostics). Exits 1 if any check fails.

LBP3D is enabled too; PyRadiomics 3.0.1 computes nothing for it unless
``trimesh`` is installed and SciPy still has ``scipy.special.sph_harm`` (gone in
SciPy 1.17), and it keeps the exact path anyway.

    python benchmarks/bench_roi_crop.py [--cases brain1 brain2 breast1 lung1 lung2] [--repeat 1]
"""

from __future__ import annotations

import argparse
import logging
import math
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "RadiomicsWorkshop"))

CASES = ["brain1", "brain2", "breast1", "lung1", "lung2"]
RATIO_LIMIT = 1.8
REL, ABS = 1e-3, 1e-9
PARAMS = {
    "imageType": {"Original": {}, "LoG": {"sigma": [1.0, 2.0, 3.0, 4.0, 5.0]}, "Wavelet": {}, "Square": {},
                  "SquareRoot": {}, "Logarithm": {}, "Exponential": {}, "Gradient": {}, "LBP2D": {}, "LBP3D": {}},
    "setting": {"binWidth": 25, "voxelArrayShift": 2000},
}  # all feature classes (PyRadiomics' default)
#: PyRadiomics 3.0.1's image-type names (feature key prefixes) -> enabled image type
PREFIXES = [("original_", "Original"), ("log-sigma-", "LoG"), ("wavelet", "Wavelet"), ("squareroot_", "SquareRoot"),
            ("square_", "Square"), ("logarithm_", "Logarithm"), ("exponential_", "Exponential"),
            ("gradient_", "Gradient"), ("lbp-2D_", "LBP2D"), ("lbp-3D-", "LBP3D")]


def image_type_of(key: str) -> str:
    return next((kind for prefix, kind in PREFIXES if key.startswith(prefix)), "?")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", nargs="+", default=CASES, choices=CASES)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()

    import radiomics
    import SimpleITK as sitk
    from radiomics import featureextractor, imageoperations
    from RadiomicsWorkshopLib.examples.sampledata import default_data_dir, has_sample_data
    from RadiomicsWorkshopLib.features import roi_crop

    folder = default_data_dir()
    if not has_sample_data(folder):
        sys.exit(f"sample data not found in {folder}: run `make sample-data` (or set RADIOMICS_WORKSHOP_DATA)")
    radiomics.setVerbosity(logging.ERROR)
    extractor = featureextractor.RadiomicsFeatureExtractor(PARAMS)

    def read(name):
        return (sitk.ReadImage(str(folder / f"{name}_image.nrrd")),
                sitk.ReadImage(str(folder / f"{name}_label.nrrd")))

    def timed(function, *call):
        start = time.perf_counter()
        result = function(*call)
        return time.perf_counter() - start, result

    warm = read("breast1")
    extractor.execute(*warm)
    roi_crop.execute_with_roi_crop(extractor, *warm)

    totals = [0.0, 0.0]
    worst: dict[str, tuple[float, str]] = {}
    failures: list[str] = []
    print(f"{'case':8s} {'size':>14s} {'largest crop':>12s} {'PyRadiomics':>11s} {'ROI crop':>9s} {'ratio':>6s}")
    for name in args.cases:
        image, mask = read(name)
        box, _ = imageoperations.checkMask(image, mask, **extractor.settings)
        steps = roi_crop.plan_crop(extractor.enabledImagetypes, extractor.settings, image.GetSize(),
                                   image.GetSpacing(), box)
        crops = [math.prod(high - low + 1 for low, high in s.region) for s in steps if s.region is not None]
        largest = max(crops) / float(image.GetNumberOfPixels()) if crops else 1.0
        base_times, our_times = [], []
        full = ours = None
        for repeat in range(args.repeat):
            runs = [("base", extractor.execute), ("ours", lambda i, m: roi_crop.execute_with_roi_crop(extractor, i, m))]
            for kind, function in runs if repeat % 2 == 0 else runs[::-1]:
                seconds, result = timed(function, image, mask)
                if kind == "base":
                    base_times.append(seconds)
                    full = result
                else:
                    our_times.append(seconds)
                    ours = result
        base, our = statistics.median(base_times), statistics.median(our_times)
        totals[0] += base
        totals[1] += our
        size = "x".join(str(n) for n in image.GetSize())
        print(f"{name:8s} {size:>14s} {100 * largest:11.1f}% {base:10.2f}s {our:8.2f}s {base / our:6.2f}")
        if list(ours) != list(full):
            failures.append(f"{name}: keys or their order differ")
            continue
        for key, ref in full.items():
            if key.startswith("diagnostics_"):
                if repr(ours[key]) != repr(ref):
                    failures.append(f"{name} {key}: {ours[key]!r} vs {ref!r}")
                continue
            ref, value = float(ref), float(ours[key])
            deviation = abs(value - ref) / abs(ref) if ref else abs(value)
            kind = image_type_of(key)
            if deviation >= worst.get(kind, (-1.0, ""))[0]:
                worst[kind] = (deviation, f"{name} {key}")
            if abs(value - ref) > ABS + REL * abs(ref):
                failures.append(f"{name} {key}: {value} vs {ref} (relative {deviation:.2e})")
    ratio = totals[0] / totals[1]
    print(f"total: PyRadiomics {totals[0]:.2f} s, ROI crop {totals[1]:.2f} s -> speed-up {ratio:.2f} "
          f"(pass: >= {RATIO_LIMIT})")
    print("largest relative deviation per image type (pass: <= 1e-3, with an absolute floor of 1e-9):")
    for kind in PARAMS["imageType"]:
        path = "cropped" if kind in roi_crop.CROPPED_TYPES else "whole image (exact path)"
        if kind in worst:
            where = worst[kind][1] if worst[kind][0] > 0 else "(all identical)"
            print(f"  {kind:12s} {worst[kind][0]:.2e}  {path:26s} {where}")
        else:
            print(f"  {kind:12s} {'-':8s}  {path:26s} (PyRadiomics computed no feature)")
    for failure in failures[:20]:
        print("FAIL", failure)
    if ratio < RATIO_LIMIT:
        print(f"FAIL speed-up {ratio:.2f} < {RATIO_LIMIT}")
    ok = ratio >= RATIO_LIMIT and not failures
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
