"""Commands of the feature steps: extract, preprocess, deep-features, merge, presets, ibsi-check."""

from __future__ import annotations

import argparse
import sys

from ..deep.names import DEEP_FEATURE_MODELS_2D, DEEP_FEATURE_MODELS_3D, canonical_name
from .common import (EXIT_OK, EXIT_SOME_FAILED, add_case_inputs, add_progress_option, add_run_options, batch_done,
                     cases_from_args, check_jobs, runs)


def add_parsers(sub) -> None:
    add_extract(sub)
    add_preprocess(sub)
    add_deep(sub)
    add_merge(sub)
    add_robustness(sub)


def _case_and_settings(p):
    """The case inputs and the extraction settings (a preset or a parameter file) of extract and robustness."""
    add_case_inputs(p)
    cfg = p.add_argument_group("settings")
    cfg.add_argument("--preset", help="shipped preset: CT, MR, MR_2D, IBSI, ... (default MR)")
    cfg.add_argument("--params", help="your own PyRadiomics parameter file (YAML)")
    return cfg


def add_extract(sub) -> None:
    p = sub.add_parser(
        "extract", help="radiomics features (PyRadiomics) for one case or a cohort",
        description="Extract PyRadiomics features for one image+mask (--image/--mask) or for every case of a "
                    "manifest CSV (--manifest; columns case_id,image,mask[,roi,patient_id,label,site]). "
                    "One row per (case_id, roi); with slice-wise settings one row per slice.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    cfg = _case_and_settings(p)
    cfg.add_argument("--preprocess", metavar="RECIPE",
                     help="apply a preprocessing recipe (shipped name or YAML/JSON file) on the fly")
    cfg.add_argument("--engine", choices=["auto", "ours", "pyradiomics"],
                     help="who computes PyRadiomics' classes: our engine, PyRadiomics, or auto: ours wherever it "
                          "computes everything the preset asks for (default: the preset's 'workshop: engine', "
                          "else auto)")
    cfg.add_argument("--no-roi-crop", action="store_true",
                     help="filter the whole image as plain PyRadiomics does (slower, same numbers within 0.1%%)")
    p.add_argument("--dicom-report", metavar="DIR",
                   help="also write each DICOM case's ROIs as a DICOM SEG and its features as a TID 1500 "
                        "structured report (<case_id>.seg.dcm, <case_id>.sr.dcm) into DIR")
    add_run_options(p)
    p.set_defaults(func=cmd_extract)


def add_preprocess(sub) -> None:
    p = sub.add_parser(
        "preprocess", help="N4 bias field, denoising, resampling, normalisation for one image or a cohort",
        description="Apply a preprocessing recipe (an ordered list of steps: n4, denoise, resample, normalize) "
                    "to one image (--image [--mask]) or to every case of a manifest. Writes the images (and "
                    "resampled masks) under --out-dir with a provenance sidecar each, and --out-dir/manifest.csv "
                    "pointing at them, ready for `extract --manifest`.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    add_case_inputs(p, mask_help="label map (resampled along with the image; used by 'roi' regions)", rois=False)
    p.add_argument("--recipe", required=True, help="shipped recipe (brain_MR, prostate_T2w, CT) or a YAML/JSON file")
    p.add_argument("--out-dir", required=True, help="folder for the preprocessed images and the new manifest")
    p.add_argument("--bias-field", action="store_true", help="also write the N4 bias field")
    add_run_options(p, out_help=None)
    p.set_defaults(func=cmd_preprocess)


def add_deep(sub) -> None:
    p = sub.add_parser(
        "deep-features", help="deep features from a pretrained CNN at the ROI, for one case or a cohort",
        description="Features of a pretrained network (MONAI; global-average pooled) at each ROI: 2D networks per "
                    "slice around the ROI (mean and max over slices), 3D networks on a cube centred on the ROI. "
                    "Same keys as the radiomics table (case_id, roi); columns deep_<model>_<k>.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    add_case_inputs(p)
    p.add_argument("--model", default="resnet18", type=canonical_name,
                   help=f"{', '.join(DEEP_FEATURE_MODELS_2D)} (2D); {', '.join(DEEP_FEATURE_MODELS_3D)} (3D)")
    p.add_argument("--weights", required=True,
                   help="weights file (a saved state dict); 'pretrained' lets MONAI download them (network needed); "
                        "'random' for tests only")
    p.add_argument("--layer", help="module whose output is pooled (default: the network's last pooling)")
    p.add_argument("--modality", choices=["MR", "CT"], default="MR", help="intensity scaling")
    p.add_argument("--margin-mm", type=float, default=10.0, help="2D: margin around the ROI's bounding box")
    p.add_argument("--context-slices", type=int, default=0, help="2D: 2.5D input, neighbours at +-k as channels")
    p.add_argument("--patch-mm", type=float, help="3D: cube edge in mm (default: the network's input size)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--device", choices=["cpu", "cuda", "auto"], default="auto")
    p.add_argument("--precision", choices=["float32", "bfloat16", "float16"], default="float32",
                   help="reduced precision is several times faster on GPUs and AMX CPUs; features then agree with "
                        "float32 to about 1e-2 relative")
    add_run_options(p, default_jobs=1, jobs_help="worker processes, each with its own copy of the network and "
                                                   "its share of the cores (1: torch uses every core itself)")
    p.set_defaults(func=cmd_deep)


def add_merge(sub) -> None:
    p = sub.add_parser("merge", help="join radiomics, deep and clinical tables on (case_id, roi)",
                       description="Join feature tables on (case_id, roi) and, optionally, a clinical CSV on "
                                   "case_id (or --clinical-key). Duplicate or missing keys are refused with a "
                                   "report, unless --inner keeps only the keys all tables share.")
    p.add_argument("tables", nargs="+", help="feature tables (.csv/.parquet)")
    p.add_argument("--clinical", help="clinical CSV (one row per case or patient)")
    p.add_argument("--clinical-key", default="case_id", help="key column of the clinical table")
    p.add_argument("--inner", action="store_true", help="keep the shared keys only (and say what was dropped)")
    p.add_argument("--out", required=True, help="merged table, .csv or .parquet")
    p.add_argument("--overwrite", action="store_true")
    p.set_defaults(func=cmd_merge)


def add_robustness(sub) -> None:
    p = sub.add_parser(
        "robustness", help="feature robustness: ICCs under image and contour perturbations, or across readers",
        description="Extract every case under a seeded set of perturbations (Zwanenburg et al. 2019: R rotation, "
                    "N noise at the image's own level, T sub-voxel translation, V volume adaptation, C supervoxel "
                    "contour randomisation), or take repeated measurements from a manifest column (--repeats: "
                    "readers' masks, test-retest sessions; the subject is the patient_id), then each feature's "
                    "ICC(1,1), ICC(2,1), ICC(3,1) with 95%% CIs and the CCC. Writes into --out: features.csv, "
                    "icc.csv, icc_by_family.csv, icc.png and robustness.md.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    cfg = _case_and_settings(p)
    cfg.add_argument("--perturbations", default="RNTC", help="the perturbation set's letters (R, N, T, V, C)")
    cfg.add_argument("--count", type=int, default=30, help="perturbations per case")
    cfg.add_argument("--seed", type=int, default=0, help="seed of the perturbation set")
    cfg.add_argument("--repeats", metavar="COLUMN",
                     help="no perturbation: the manifest column naming each row's repetition (reader, session)")
    cfg.add_argument("--threshold", type=float, default=0.75, help="ICC lower 95%% bound a robust feature reaches")
    cfg.add_argument("--icc", choices=["icc1", "icc2", "icc3"], default="icc1", help="the ICC the threshold applies to")
    add_run_options(p, out_help="output folder")
    p.set_defaults(func=cmd_robustness)


def add_presets(sub) -> None:
    p = sub.add_parser("presets", help="list the shipped extraction presets, or print one",
                       description="List the shipped presets, or print one (a PyRadiomics parameter file) "
                                   "to start your own from.")
    p.add_argument("name", nargs="?", help="preset to print")
    p.set_defaults(func=cmd_presets)
    p = sub.add_parser(
        "ibsi-check", help="check this installation against the IBSI-1 and IBSI-2 reference values",
        description="Extract every IBSI-1 reference data set found under --data (the digital phantom: preset "
                    "IBSI; the CT phantom's configurations A to E: presets and recipes IBSI_CT_A ...) and "
                    "compare with its consensus values, family by family; with the IBSI-2 data, also "
                    "IBSI2-phase1 (the 33 reference response maps of the convolutional filters, each within "
                    "1%% of its range) and IBSI2-1.A ... IBSI2-9.B (the CT phantom filtered: presets "
                    "IBSI2_CT_1A ...). Exit status 1 when a family reproduces fewer values than a correct "
                    "installation does.")
    p.add_argument("--data", help="the IBSI data folder, holding digital_phantom/, ct_phantom/ and their reference "
                                  "CSVs (default: $RADIOMICS_WORKSHOP_IBSI_DIR, else ../shared/data/ibsi)")
    p.add_argument("--ibsi2-data", help="the IBSI-2 data folder, holding digital_phantom/ and reference/ "
                                        "(default: ibsi2 beside --data)")
    from ..features.ibsi.configurations import IBSI2_NAMES, NAMES

    p.add_argument("--configuration", action="append", choices=NAMES + IBSI2_NAMES,
                   help="check only this one (repeatable; default: every one found)")
    p.add_argument("--out", help="the table as CSV (configuration, family, reproduced, compared, expected, "
                                 "regressed); every compared value beside it as <out>.values.csv")
    p.add_argument("--overwrite", action="store_true")
    add_progress_option(p, help=None)
    p.set_defaults(func=cmd_ibsi_check)



@runs("extract")
def cmd_extract(args, progress) -> int:
    from ..batch.extract import run_cohort
    from ..features.presets import load_params
    from ..io.errors import SettingsError

    check_jobs(args)
    params = load_params(preset=args.preset, params_file=args.params)
    if args.engine:
        from ..features.presets import with_engine

        params = with_engine(params, args.engine)
    if args.preprocess:
        from ..preprocessing.recipes import load_recipe

        params.recipe = load_recipe(args.preprocess)
        if params.recipe.needs_cohort_fit():
            raise SettingsError("this recipe learns histogram landmarks on a cohort",
                                hint="run `radiomics-workshop preprocess --manifest ...` first, then extract "
                                     "from the manifest it writes")
    cases = cases_from_args(args, mask_required=True)
    summary = run_cohort(cases, params, args.out, jobs=args.jobs, overwrite=args.overwrite,
                         retry_failed=args.retry_failed, resample_mask=args.resample_mask,
                         roi_crop=not args.no_roi_crop, progress=progress, scheduler=args.scheduler,
                         timeout=args.timeout)
    if args.dicom_report:
        from ..batch.extract import write_dicom_reports

        written = write_dicom_reports(cases, args.out, params, args.dicom_report, overwrite=args.overwrite)
        print(f"DICOM SEG + SR for {len(written)} case(s) -> {args.dicom_report}", file=sys.stderr)
    return batch_done(progress, summary, len(cases), "row(s)")


@runs("robustness")
def cmd_robustness(args, progress) -> int:
    from ..features.presets import load_params
    from ..batch.robustness import run_robustness

    check_jobs(args)
    params = load_params(preset=args.preset, params_file=args.params)
    cases = cases_from_args(args, mask_required=True)
    summary, written = run_robustness(cases, params, args.out, letters=args.perturbations, count=args.count,
                                      seed=args.seed, repeats=args.repeats, threshold=args.threshold,
                                      icc=args.icc, jobs=args.jobs, overwrite=args.overwrite,
                                      retry_failed=args.retry_failed, progress=progress, scheduler=args.scheduler,
                                      timeout=args.timeout)
    for path in written:
        print(path, file=sys.stderr)
    return batch_done(progress, summary, len(cases), "row(s)")


@runs("preprocess")
def cmd_preprocess(args, progress) -> int:
    from ..batch.preprocess import run_preprocess
    from ..preprocessing.recipes import load_recipe

    check_jobs(args)
    recipe = load_recipe(args.recipe)
    cases = cases_from_args(args)
    summary = run_preprocess(cases, recipe, args.out_dir, jobs=args.jobs, overwrite=args.overwrite,
                             retry_failed=args.retry_failed, resample_mask=args.resample_mask,
                             keep_bias_field=args.bias_field, progress=progress, scheduler=args.scheduler,
                             timeout=args.timeout)
    return batch_done(progress, summary, len(cases), "preprocessed image(s)")


@runs("deep-features")
def cmd_deep(args, progress) -> int:
    from ..batch.deep_features import run_deep_features
    from ..deep.settings import DeepSettings

    check_jobs(args, "batch_size", "jobs")
    settings = DeepSettings(model=args.model, weights=args.weights, layer=args.layer, modality=args.modality,
                            margin_mm=args.margin_mm, context_slices=args.context_slices,
                            patch_mm=args.patch_mm, batch_size=args.batch_size, device=args.device,
                            precision=args.precision)
    cases = cases_from_args(args, mask_required=True)
    summary = run_deep_features(cases, settings, args.out, overwrite=args.overwrite,
                                retry_failed=args.retry_failed, resample_mask=args.resample_mask,
                                progress=progress, jobs=args.jobs, scheduler=args.scheduler,
                                timeout=args.timeout)
    return batch_done(progress, summary, len(cases), "row(s)")


@runs()
def cmd_merge(args, progress) -> int:
    from ..io.errors import OutputExistsError
    from ..io.tables import check_table_path, write_table
    from ..modeling.merge import merge_tables

    out = check_table_path(args.out)
    if out.exists() and not args.overwrite:
        raise OutputExistsError("output exists", file=out, hint="pass --overwrite or choose another --out")
    merged, report = merge_tables(args.tables, args.clinical, clinical_key=args.clinical_key, inner=args.inner)
    write_table(merged, out)
    for line in report:
        print(f"note: {line}", file=sys.stderr)
    print(f"{len(merged)} row(s), {merged.shape[1]} column(s) -> {out}", file=sys.stderr)
    return EXIT_OK


@runs()
def cmd_presets(args, progress) -> int:
    from ..features.presets import list_presets, preset_path

    if args.name:
        print(preset_path(args.name).read_text(), end="")
    else:
        for name in list_presets():
            print(name)
    return EXIT_OK


@runs("ibsi-check")
def cmd_ibsi_check(args, progress) -> int:
    from ..features.compliance import run_check, worst_misses
    from ..features.ibsi.configurations import IBSI2_PHASE1
    from ..features.ibsi.reference import default_reference_dir
    from ..io.errors import OutputExistsError
    from ..io.tables import check_table_path, write_table

    out = check_table_path(args.out) if args.out else None
    if out is not None and out.exists() and not args.overwrite:
        raise OutputExistsError("output exists", file=out, hint="pass --overwrite or choose another --out")
    table, values = run_check(args.data or default_reference_dir(), args.configuration, progress=progress,
                              ibsi2_dir=args.ibsi2_data)
    progress.close()
    for name, rows in table.groupby("configuration", sort=False):
        done, of = int(rows["reproduced"].sum()), int(rows["compared"].sum())
        what = "reference response maps" if name == IBSI2_PHASE1 else "reference values"
        print(f"\n{name}: {done} / {of} {what} reproduced", file=sys.stderr)
        if name == IBSI2_PHASE1:
            for test in values[values["configuration"] == name].itertuples():
                print(f"  {test.feature:<40} {100 * test.ours:7.3f} % of the range"
                      f"{'' if test.reproduced else '  OFF'}", file=sys.stderr)
            continue
        for row in rows.itertuples():
            expected = "" if row.expected != row.expected else f" (expected {int(row.expected)})"
            flag = "  REGRESSED" if row.regressed else ""
            print(f"  {row.family:<52} {row.reproduced:>4} / {row.compared:<4}{expected}{flag}", file=sys.stderr)
        for miss in worst_misses(values, name).itertuples():
            aggregation = getattr(miss, "aggregation", None)
            aggregation = aggregation if isinstance(aggregation, str) and aggregation else "no aggregation"
            print(f"  furthest off: {miss.feature} ({aggregation}): ours {miss.ours:.6g}, "
                  f"reference {miss.reference:.6g} +- {miss.tolerance:.3g}", file=sys.stderr)
    if out is not None:
        write_table(table, out)
        write_table(values, out.with_name(f"{out.stem}.values{out.suffix}"))
    progress.result(str(out) if out else "", regressed=int(table["regressed"].sum()))
    regressed = table[table["regressed"]]
    if len(regressed):
        progress.error(f"{len(regressed)} famil{'y' if len(regressed) == 1 else 'ies'} regressed: "
                       + "; ".join(f"{r.configuration} {r.family} ({int(r.reproduced)} < {int(r.expected)})"
                                   for r in regressed.itertuples()),
                       hint="the values furthest off are listed above; compare with a fresh installation "
                            "(make setup) and report it if it persists")
        return EXIT_SOME_FAILED
    return EXIT_OK
