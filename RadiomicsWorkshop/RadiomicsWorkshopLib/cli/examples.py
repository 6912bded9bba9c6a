"""Commands of the examples: sample-data (PyRadiomics' cases, or generated phantoms) and the whole demo."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .common import EXIT_OK, add_progress_option, cores, default_cores, runs


def add_parsers(sub) -> None:
    add_sample_data(sub)
    add_demo(sub)


def add_sample_data(sub) -> None:
    p = sub.add_parser("sample-data", help="fetch PyRadiomics' sample cases (brain, breast, lung) with pip, or "
                                           "generate a labelled cohort of lesion phantoms (--phantoms N)",
                       description="Download PyRadiomics' source distribution with pip (the only network access "
                                   "of this tool, and only when asked) and unpack its data/ folder: five cases "
                                   "with labels and PyRadiomics' baseline feature values. With --phantoms N, "
                                   "generate N small 3D lesion phantoms instead (no network): two classes, "
                                   "'fine' (round, fine texture) and 'coarse' (elongated, coarse texture), two "
                                   "sites with different intensity scales, seeded; the manifest has patient_id, "
                                   "label and site columns, ready for extract, train and train-seg.")
    p.add_argument("--dest", required=True, help="folder to unpack (or generate the phantoms) into")
    p.add_argument("--manifest", help="also write a manifest CSV of the cases here (with --phantoms: default "
                                      "DEST/manifest.csv)")
    p.add_argument("--phantoms", type=int, metavar="N", help="generate N lesion phantoms (40 for the demo)")
    p.add_argument("--seed", type=int, help="with --phantoms: random seed (default 2024)")
    p.add_argument("--kind", choices=["lesions", "slices"],
                   help="with --phantoms: 3D lesions (texture and shape differ; default) or a slice-wise cohort "
                        "for the end-to-end CNN (4 thick slices, texture differs only)")
    p.add_argument("--overwrite", action="store_true", help="with --phantoms: replace an existing manifest")
    p.set_defaults(func=cmd_sample_data)


def add_demo(sub) -> None:
    p = sub.add_parser(
        "demo", help="the whole workflow on sample data into one folder (preprocess, extract, deep features, "
                     "train, predict, auto-segment)",
        description="Run every step of the workflow through this command line on PyRadiomics' sample cases and a "
                    "generated cohort of 40 lesion phantoms: preprocessing, radiomics and deep features, merge, a "
                    "model with nested patient-grouped cross-validation and its HTML report, prediction of the "
                    "sample cases, and a segmentation network trained for a few epochs, applied to held-out "
                    "phantoms and evaluated. Writes everything, with a README.md describing it, under --out. "
                    "Deep features use random weights (offline): real use needs pretrained weights.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--out", default="out/demo", help="folder for all outputs")
    p.add_argument("--data", help="PyRadiomics sample data folder (fetched with pip when missing; default: "
                                  "$RADIOMICS_WORKSHOP_DATA or .cache/sample-data of the checkout)")
    p.add_argument("--ibsi", help="IBSI data folder (digital_phantom/nifti/...): also extract the IBSI phantom")
    p.add_argument("--phantoms", type=int, default=40, help="lesion phantoms in the generated cohort")
    p.add_argument("--seg-epochs", type=int, default=8, help="training epochs of the segmentation network")
    p.add_argument("--jobs", type=cores, default=default_cores(), help="cores to use")
    p.add_argument("--overwrite", action="store_true", help="run again into an --out that holds a previous demo")
    add_progress_option(p, help="progress of each step", choices=["auto", "bar", "none"])
    p.set_defaults(func=cmd_demo)



@runs()
def cmd_sample_data(args, progress) -> int:
    from ..io.errors import SettingsError

    if args.phantoms is None:
        if args.seed is not None or args.overwrite or args.kind:
            raise SettingsError("--seed, --kind and --overwrite apply to --phantoms N")
        from ..examples.sampledata import fetch_sample_data, write_sample_manifest

        folder = fetch_sample_data(Path(args.dest))
        if args.manifest:
            write_sample_manifest(folder, Path(args.manifest))
        print(f"sample data in {folder}", file=sys.stderr)
        return EXIT_OK
    from ..examples.phantoms import DEFAULT_SEED, write_phantom_cohort

    manifest = write_phantom_cohort(args.dest, args.phantoms, manifest=args.manifest, overwrite=args.overwrite,
                                    seed=DEFAULT_SEED if args.seed is None else args.seed,
                                    kind=args.kind or "lesions")
    print(f"{args.phantoms} {'slice-wise' if args.kind == 'slices' else 'lesion'} phantoms in {args.dest}, "
          f"manifest {manifest}", file=sys.stderr)
    return EXIT_OK


@runs()
def cmd_demo(args, progress) -> int:
    from ..examples.demo import DemoSettings, run_demo

    settings = DemoSettings(phantoms=args.phantoms, seg_epochs=args.seg_epochs, jobs=args.jobs,
                            progress=args.progress)
    run_demo(args.out, settings, data=args.data, ibsi=args.ibsi, overwrite=args.overwrite)
    return EXIT_OK
