"""The IBSI-2 filters on lung2: each filter on the ROI crop (what the extraction does) against the same filter
on the whole image, and against PyRadiomics' own LoG and wavelet, as ratios measured in one run.

For each filter: our engine's ``Extractor.execute`` with ``crop=True`` and ``crop=False`` (first order and
the IBSI statistics on the response map, as IBSI-2 phase 2), median of ``--repeat`` alternating runs after a
warm-up; the features on the crop must equal the whole image's (``1e-9 + 1e-6 * |whole|``, far inside the
IBSI-2 tolerances). Then PyRadiomics 3.0.1's LoG (sigma 1.5 mm) and its eight level-1 wavelet bands
(coif1), which it computes on the whole image, against our IBSI LoG and our eight IBSI wavelet bands on
the crop (the same features). Simoncelli acts in the Fourier domain and always sees the whole image.
Exits 1 if a crop differs from the whole image, or the crop is not faster where it is smaller
(whole / crop < 1.5 for every filter but Simoncelli).

    python benchmarks/bench_ibsi2_filters.py [--case lung2] [--repeat 3]
"""

from __future__ import annotations

import argparse
import logging
import sys

from common import case_paths, median, timed

FEATURES = {"firstorder": [], "statistics": []}
SETTING = {"binWidth": 25, "voxelArrayShift": 0}
BANDS = ["LLL", "LLH", "LHL", "LHH", "HLL", "HLH", "HHL", "HHH"]
FILTERS = {
    "mean 5, 3D": {"IBSIMean": {"support": 5}},
    "LoG 1.5 mm, 3D": {"IBSILoG": {"sigma": 1.5}},
    "LoG 1.5 mm, 2D": {"IBSILoG": {"sigma": 1.5, "dimensions": 2}},
    "Laws L5E5E5 energy, invariant": {"IBSILaws": {"kernel": "L5E5E5", "rotation_invariant": True,
                                                   "energy_distance": 7}},
    "Gabor, 16 orientations, 3 planes": {"IBSIGabor": {"sigma": 5.0, "wavelength": 2.0, "gamma": 1.5,
                                                       "theta_step": 22.5}},
    "db3 LLH level 1, invariant": {"IBSIWavelet": {"wavelet": "db3", "band": "LLH", "rotation_invariant": True}},
    "coif1, 8 bands": {"IBSIWavelet": {"wavelet": "coif1", "band": BANDS}},
    "Simoncelli level 1, 3D": {"IBSISimoncelli": {"level": 1}},
}
PYRADIOMICS = {"LoG 1.5 mm, 3D": {"LoG": {"sigma": [1.5]}}, "coif1, 8 bands": {"Wavelet": {}}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--case", default="lung2")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    import SimpleITK as sitk
    from RadiomicsWorkshopLib.features.engine.extractor import Extractor

    image_path, mask_path = case_paths(args.case)
    image, mask = sitk.ReadImage(str(image_path)), sitk.ReadImage(str(mask_path))
    failures, rows = [], []
    for name, image_types in FILTERS.items():
        extractor = Extractor({"imageType": image_types, "featureClass": FEATURES, "setting": SETTING})
        extractor.execute(image, mask, 1)  # warm-up (imports, compilation)
        crop_times, whole_times = [], []
        for _ in range(args.repeat):
            t, cropped = timed(extractor.execute, image, mask, 1, crop=True)
            crop_times.append(t)
            t, whole = timed(extractor.execute, image, mask, 1, crop=False)
            whole_times.append(t)
        worst = max(abs(cropped[k] - whole[k]) / (1e-9 + 1e-6 * abs(whole[k]))
                    for k in whole if not k.startswith("diagnostics_"))
        crop, full = median(crop_times), median(whole_times)
        rows.append((name, crop, full))
        print(f"{name:<36} crop {crop * 1000:8.0f} ms   whole image {full * 1000:8.0f} ms   "
              f"whole / crop {full / crop:6.1f}x   largest difference {worst:.2g} of the tolerance")
        if worst > 1:
            failures.append(f"{name}: the crop's features differ from the whole image's")
        if "Simoncelli" not in name and full / crop < 1.5:
            failures.append(f"{name}: the crop is not faster (whole / crop {full / crop:.2f})")
    import radiomics
    from radiomics import featureextractor

    radiomics.setVerbosity(logging.ERROR)
    ours = {name: crop for name, crop, _ in rows}
    for name, image_types in PYRADIOMICS.items():
        extractor = featureextractor.RadiomicsFeatureExtractor({"imageType": image_types, "setting": SETTING,
                                                                "featureClass": {"firstorder": []}})
        extractor.execute(image, mask)
        theirs = median([timed(extractor.execute, image, mask)[0] for _ in range(args.repeat)])
        print(f"PyRadiomics {name:<24} {theirs * 1000:8.0f} ms   PyRadiomics / our IBSI filter on the crop "
              f"{theirs / ours[name]:6.1f}x")
    for failure in failures:
        print("FAIL:", failure, file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
