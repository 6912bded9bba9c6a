"""The IBSI feature set's cost on the PyRadiomics sample cases.

Per case, in the same run and on the same in-memory images (alternating order per repeat, after a warm-up
of everything on breast1 for the imports):

- (a) PyRadiomics' default set: ``RadiomicsFeatureExtractor()`` (all classes, original image, bin width 25);
- (b) the full ``ibsi`` set: ``extract_case`` with the ``IBSI`` preset (PyRadiomics' classes in six texture
  aggregations, by our engine + our families), bin width 25 instead of the preset's 1 (these are MR and CT images, not
  the phantom's integer grey levels; the same discretisation as (a));
- (c) our families alone (``features.ibsi.families.case_features``: all seven, GLDZM and NGLDM in the preset's
  three zone aggregations);
- (d) PyRadiomics' texture classes alone (GLCM, GLRLM, GLSZM, GLDM, NGTDM; one 3D pass) on the same ROI.

(c) and (d) get the image cut to the ROI's box (with the margin the local intensity sphere needs), so that
both measure the features' computation, not PyRadiomics' checks of the whole image.

Prints per-case medians (information), b/a and c/d per case and over all cases. Pass: (c) costs no more
than (d) over all cases, i.e. the added families cost no more than PyRadiomics' own texture classes.

    python benchmarks/bench_ibsi.py [--cases ...] [--repeat 3]
"""

from __future__ import annotations

import argparse
import copy
import logging
import statistics
import sys

from common import CASES, case_paths, timed

TEXTURE = {"glcm": [], "glrlm": [], "glszm": [], "gldm": [], "ngtdm": []}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", nargs="+", default=CASES, choices=CASES)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    import radiomics
    import SimpleITK as sitk
    import yaml
    from radiomics import featureextractor
    from RadiomicsWorkshopLib.features.extraction import extract_case, ibsi_texture_aggregations
    from RadiomicsWorkshopLib.features.ibsi import families as ibsi_families
    from RadiomicsWorkshopLib.features.preparation import roi_box
    from RadiomicsWorkshopLib.features.presets import load_params, params_from_dict, preset_path

    radiomics.setVerbosity(logging.ERROR)
    preset = yaml.safe_load(preset_path("IBSI").read_text())
    preset["setting"]["binWidth"] = 25
    params = params_from_dict(copy.deepcopy(preset), name="IBSI (bin width 25)")
    assert load_params(preset="IBSI").ibsi_families == params.ibsi_families == ibsi_families.FAMILIES
    default = featureextractor.RadiomicsFeatureExtractor()
    texture = featureextractor.RadiomicsFeatureExtractor({"imageType": {"Original": {}}, "featureClass": TEXTURE,
                                                          "setting": params.settings})
    aggregations = ibsi_texture_aggregations(params)
    runs = {
        "a": lambda image, mask: default.execute(image, mask),
        "b": lambda image, mask: extract_case(image, mask, params=params, case_id="bench"),
        "c": lambda image, mask: ibsi_families.case_features(image, mask, 1, params.settings, params.ibsi_families,
                                                             aggregations),
        "d": lambda image, mask: texture.execute(image, mask),
    }

    def read(name):
        image_file, mask_file = case_paths(name)
        return sitk.ReadImage(str(image_file)), sitk.ReadImage(str(mask_file))

    warm = read("breast1")
    for run in runs.values():
        run(*warm)
    totals = dict.fromkeys(runs, 0.0)
    print(f"{'case':8s} {'voxels':>7s} {'(a) default':>11s} {'(b) ibsi':>9s} {'b/a':>5s} "
          f"{'(c) ours':>9s} {'(d) texture':>11s} {'c/d':>5s}")
    for name in args.cases:
        image, mask = read(name)
        box = roi_box(sitk.GetArrayViewFromImage(mask) == 1, ibsi_families._margin(image.GetSpacing()[::-1]))
        index, size = [b.start for b in box[::-1]], [b.stop - b.start for b in box[::-1]]
        cropped = tuple(sitk.RegionOfInterest(x, size, index) for x in (image, mask))
        voxels = int((sitk.GetArrayViewFromImage(mask) == 1).sum())
        times: dict[str, list[float]] = {key: [] for key in runs}
        for repeat in range(args.repeat):
            order = list(runs) if repeat % 2 == 0 else list(runs)[::-1]
            for key in order:
                times[key].append(timed(runs[key], *((image, mask) if key in "ab" else cropped))[0])
        medians = {key: statistics.median(values) for key, values in times.items()}
        for key in runs:
            totals[key] += medians[key]
        print(f"{name:8s} {voxels:7d} {medians['a']:10.2f}s {medians['b']:8.2f}s {medians['b'] / medians['a']:5.2f} "
              f"{medians['c']:8.3f}s {medians['d']:10.3f}s {medians['c'] / medians['d']:5.2f}")
    full, families = totals["b"] / totals["a"], totals["c"] / totals["d"]
    print(f"total: (a) {totals['a']:.2f} s, (b) {totals['b']:.2f} s -> full ibsi set / default set = {full:.2f}")
    print(f"total: (c) {totals['c']:.2f} s, (d) {totals['d']:.2f} s -> our families / PyRadiomics' texture "
          f"classes = {families:.2f} (pass: <= 1)")
    ok = families <= 1.0
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
