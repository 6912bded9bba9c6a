"""The cost of the IBSI-1 image-processing chain: configuration C (3D, 2 mm trilinear, [-1000, 400] HU, 25 HU bins)
on the IBSI CT phantom and on PyRadiomics' lung2, in one run, on the same in-memory images:

- (a) plain PyRadiomics doing its own processing: ``resampledPixelSpacing: [2, 2, 2]``, ``interpolator:
  sitkLinear``, re-segmentation and bins as C (its grid keeps the origin; its mask is resampled by nearest
  neighbour);
- (b) our chain, then PyRadiomics on its result: the recipe ``IBSI_CT_C`` (the IBSI's grid, intensities
  rounded, the ROI interpolated and kept where it covers half a voxel), the same feature classes;
- (d) our chain in the IBSI's convention (``convention: ibsi``: its bins; first order and the texture
  classes ours, PyRadiomics shape only), the same feature classes: what the IBSI presets compute;
- (c) for information: the whole preset ``IBSI_CT_C`` (plus our families, six texture aggregations), what
  ``ibsi-check`` runs.

Prints per-case medians (information), b/a and d/a per case and over both. Pass: b/a and d/a over both
cases <= 1.5 (the chain's interpolation and partial-volume mask cost at most half again PyRadiomics' own
resampling).

    python benchmarks/bench_ibsi_chain.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys

from common import case_paths, timed

CLASSES = {"shape": [], "firstorder": [], "glcm": [], "glrlm": [], "glszm": [], "gldm": [], "ngtdm": []}
SETTINGS = {"binWidth": 25, "resegmentRange": [-1000, 400], "label": 1, "distances": [1], "gldm_a": 0,
            "symmetricalGLCM": True, "voxelArrayShift": 0}
LIMIT = 1.5


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    import radiomics
    import SimpleITK as sitk
    from radiomics import featureextractor
    from RadiomicsWorkshopLib.features.extraction import extract_case_result
    from RadiomicsWorkshopLib.features.ibsi.reference import default_reference_dir
    from RadiomicsWorkshopLib.features.presets import load_params, params_from_dict
    from RadiomicsWorkshopLib.preprocessing.recipes import load_recipe

    radiomics.setVerbosity(logging.ERROR)
    plain = featureextractor.RadiomicsFeatureExtractor(
        {"imageType": {"Original": {}}, "featureClass": CLASSES,
         "setting": {**SETTINGS, "resampledPixelSpacing": [2.0, 2.0, 2.0], "interpolator": "sitkLinear"}})
    chain = params_from_dict({"imageType": {"Original": {}}, "featureClass": CLASSES, "setting": SETTINGS},
                             name="IBSI chain, C")
    chain.recipe = load_recipe("IBSI_CT_C")
    ibsi = params_from_dict({"imageType": {"Original": {}}, "featureClass": CLASSES, "setting": SETTINGS,
                             "workshop": {"convention": "ibsi"}}, name="IBSI chain, C, IBSI convention")
    ibsi.recipe = load_recipe("IBSI_CT_C")
    full = load_params(preset="IBSI_CT_C")
    full.recipe = load_recipe("IBSI_CT_C")
    runs = {"a": lambda image, mask: plain.execute(image, mask),
            "b": lambda image, mask: extract_case_result(image, mask, chain, case_id="bench"),
            "d": lambda image, mask: extract_case_result(image, mask, ibsi, case_id="bench"),
            "c": lambda image, mask: extract_case_result(image, mask, full, case_id="bench")}

    phantom = default_reference_dir() / "ct_phantom" / "nifti"
    cases = {"lung2": case_paths("lung2")}
    if (phantom / "image" / "phantom.nii.gz").is_file():
        cases = {"CT phantom": (phantom / "image" / "phantom.nii.gz", phantom / "mask" / "mask.nii.gz"), **cases}
    else:
        print(f"the IBSI CT phantom is not in {phantom}: lung2 only")
    loaded = {name: tuple(sitk.ReadImage(str(path)) for path in paths) for name, paths in cases.items()}
    for run in runs.values():  # warm-up: imports, PyRadiomics' first calls
        run(*loaded["lung2"])
    totals = dict.fromkeys(runs, 0.0)
    print(f"{'case':12s} {'(a) PyRadiomics':>16s} {'(b) our chain':>14s} {'b/a':>5s} {'(d) IBSI conv.':>15s} "
          f"{'d/a':>5s} {'(c) IBSI_CT_C':>14s}")
    for name, (image, mask) in loaded.items():
        times: dict[str, list[float]] = {key: [] for key in runs}
        for repeat in range(args.repeat):
            for key in (list(runs) if repeat % 2 == 0 else list(runs)[::-1]):
                times[key].append(timed(runs[key], image, mask)[0])
        medians = {key: statistics.median(values) for key, values in times.items()}
        for key in runs:
            totals[key] += medians[key]
        print(f"{name:12s} {medians['a']:15.2f}s {medians['b']:13.2f}s {medians['b'] / medians['a']:5.2f} "
              f"{medians['d']:14.2f}s {medians['d'] / medians['a']:5.2f} {medians['c']:13.2f}s")
    ratios = {key: totals[key] / totals["a"] for key in ("b", "d")}
    print(f"total: (a) {totals['a']:.2f} s, (b) {totals['b']:.2f} s, (d) {totals['d']:.2f} s, (c) {totals['c']:.2f} s"
          f" -> chain / PyRadiomics' own processing: b/a = {ratios['b']:.2f}, d/a = {ratios['d']:.2f} "
          f"(pass: <= {LIMIT})")
    passed = max(ratios.values()) <= LIMIT
    print("PASS" if passed else "FAIL")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
