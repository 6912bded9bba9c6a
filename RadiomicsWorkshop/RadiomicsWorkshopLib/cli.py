"""Command line: ``radiomics-workshop <step> ...`` (also ``python -m RadiomicsWorkshopLib``).

Only argparse is imported at start-up so that ``--help`` answers at once;
each step imports what it needs when it runs.

Exit status: 0 all cases done, 1 some cases failed (see the failures table),
2 the command could not run (bad option, settings, manifest, existing output).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

EXIT_OK, EXIT_SOME_FAILED, EXIT_ERROR = 0, 1, 2


def _add_case_inputs(p, *, mask_help: str = "label map or Slicer .seg.nrrd segmentation", rois: bool = True) -> None:
    """--image/--mask (one case) or --manifest (a cohort): the inputs of every batch step."""
    group = p.add_argument_group("input (one case or a manifest)")
    group.add_argument("--image", help="image file (NRRD, NIfTI, MHA, ...) or DICOM series folder")
    group.add_argument("--mask", help=mask_help)
    if rois:
        group.add_argument("--roi", action="append", metavar="LABEL_OR_SEGMENT",
                           help="label value or segment name; repeat for several (default: all labels/segments)")
    group.add_argument("--case-id", help="case id for --image (default: image file name)")
    if rois:
        group.add_argument("--patient-id", help="patient id for --image/--mask (kept in the table)")
    group.add_argument("--manifest", help="cohort manifest CSV (columns case_id,image,mask[,roi,patient_id,label,"
                                          "site]; paths relative to it)")
    group.add_argument("--resample-mask", action="store_true",
                       help="resample a mask whose grid differs from the image's onto it (nearest neighbour)")


def _add_run_options(p, *, out_help: str | None = "output table, .csv or .parquet", jobs: bool = True,
                     default_jobs: int | None = None, jobs_help: str | None = None) -> None:
    """Output, parallelism, resume and progress options shared by the batch steps."""
    group = p.add_argument_group("run")
    if out_help:
        group.add_argument("--out", required=True, help=out_help)
    if jobs:
        group.add_argument("--jobs", type=int, default=default_jobs or os.cpu_count() or 1,
                           help=jobs_help or "cores to use: cases run in parallel processes (ITK filters get the "
                                             "cores left over)")
        group.add_argument("--scheduler", metavar="ADDRESS",
                           help="run the cases on Dask: a scheduler address (tcp://host:8786; the workers must "
                                "see the files) or 'local' (a LocalCluster of --jobs worker processes)")
        group.add_argument("--timeout", type=float, metavar="SECONDS",
                           help="give up a case that takes longer (recorded as timed out; the others go on)")
    group.add_argument("--overwrite", action="store_true", help="replace existing outputs and start again")
    group.add_argument("--retry-failed", action="store_true", help="recompute cases that failed in an earlier run")
    group.add_argument("--progress", choices=["auto", "bar", "jsonl", "none"], default="auto",
                       help="progress display; jsonl: one JSON event per line on stdout (for Slicer)")


def _add_extract(sub) -> None:
    p = sub.add_parser(
        "extract", help="radiomics features (PyRadiomics) for one case or a cohort",
        description="Extract PyRadiomics features for one image+mask (--image/--mask) or for every case of a "
                    "manifest CSV (--manifest; columns case_id,image,mask[,roi,patient_id,label,site]). "
                    "One row per (case_id, roi); with slice-wise settings one row per slice.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    _add_case_inputs(p)
    cfg = p.add_argument_group("settings")
    cfg.add_argument("--preset", help="shipped preset: CT, MR, MR_2D, IBSI, ... (default MR)")
    cfg.add_argument("--params", help="your own PyRadiomics parameter file (YAML)")
    cfg.add_argument("--preprocess", metavar="RECIPE",
                     help="apply a preprocessing recipe (shipped name or YAML/JSON file) on the fly")
    cfg.add_argument("--no-roi-crop", action="store_true",
                     help="filter the whole image as plain PyRadiomics does (slower, same numbers within 0.1%%)")
    _add_run_options(p)
    p.set_defaults(func=cmd_extract)


def _add_preprocess(sub) -> None:
    p = sub.add_parser(
        "preprocess", help="N4 bias field, denoising, resampling, normalisation for one image or a cohort",
        description="Apply a preprocessing recipe (an ordered list of steps: n4, denoise, resample, normalize) "
                    "to one image (--image [--mask]) or to every case of a manifest. Writes the images (and "
                    "resampled masks) under --out-dir with a provenance sidecar each, and --out-dir/manifest.csv "
                    "pointing at them, ready for `extract --manifest`.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    _add_case_inputs(p, mask_help="label map (resampled along with the image; used by 'roi' regions)", rois=False)
    p.add_argument("--recipe", required=True, help="shipped recipe (brain_MR, prostate_T2w, CT) or a YAML/JSON file")
    p.add_argument("--out-dir", required=True, help="folder for the preprocessed images and the new manifest")
    p.add_argument("--bias-field", action="store_true", help="also write the N4 bias field")
    _add_run_options(p, out_help=None)
    p.set_defaults(func=cmd_preprocess)


def _cases_from_args(args):
    """The cases of --manifest, or the one case of --image/--mask."""
    from .errors import SettingsError
    from .manifest import Case, read_manifest

    if bool(args.manifest) == bool(args.image):
        raise SettingsError("give either --manifest, or --image (with --mask)",
                            hint=f"radiomics-workshop {args.command} --image IMG --mask MASK ...")
    if args.manifest:
        if getattr(args, "roi", None):
            raise SettingsError("--roi applies to --image/--mask; for a manifest use its roi column")
        return read_manifest(args.manifest)
    if args.command == "extract" and not args.mask:
        raise SettingsError("--image and --mask go together")
    image = Path(args.image)
    return [Case(case_id=args.case_id or image.name.split(".")[0], image=image,
                 mask=Path(args.mask) if args.mask else None, rois=getattr(args, "roi", None),
                 patient_id=getattr(args, "patient_id", None))]


def cmd_preprocess(args) -> int:
    from .errors import SettingsError, WorkshopError
    from .progress import Progress

    progress = Progress(args.progress, step="preprocess")
    try:
        if args.jobs < 1:
            raise SettingsError("--jobs must be at least 1")
        from .preprocess_cohort import run_preprocess
        from .recipes import load_recipe

        recipe = load_recipe(args.recipe)
        cases = _cases_from_args(args)
        summary = run_preprocess(cases, recipe, args.out_dir, jobs=args.jobs, overwrite=args.overwrite,
                                 retry_failed=args.retry_failed, resample_mask=args.resample_mask,
                                 keep_bias_field=args.bias_field, progress=progress, scheduler=args.scheduler,
                                 timeout=args.timeout)
    except WorkshopError as exc:
        progress.close()
        return _fail(progress, exc)
    _report(progress, summary, len(cases), "preprocessed image(s)")
    return EXIT_OK if summary.ok else EXIT_SOME_FAILED


def _report(progress, summary, n_cases: int, what: str) -> None:
    if progress.mode == "jsonl":
        return
    rate = f", {summary.cases_per_minute:g} cases/min" if summary.cases_per_minute else ""
    print(f"{summary.rows} {what} from {n_cases - len(summary.failed)} case(s) -> {summary.table} "
          f"({summary.done} computed, {summary.skipped} already done, {len(summary.failed)} failed, "
          f"{summary.seconds:.1f} s{rate})", file=sys.stderr)
    for failure in summary.failed:
        print(f"  FAILED {failure['case_id']} ({failure.get('file')}): {failure['message']}", file=sys.stderr)
    if summary.failed:
        from .tables import failures_path

        print(f"  failures listed in {failures_path(summary.table)}", file=sys.stderr)


def _add_deep(sub) -> None:
    p = sub.add_parser(
        "deep-features", help="deep features from a pretrained CNN at the ROI, for one case or a cohort",
        description="Features of a pretrained network (MONAI; global-average pooled) at each ROI: 2D networks per "
                    "slice around the ROI (mean and max over slices), 3D networks on a cube centred on the ROI. "
                    "Same keys as the radiomics table (case_id, roi); columns deep_<model>_<k>.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    _add_case_inputs(p)
    p.add_argument("--model", default="resnet18",
                   help="resnet18, resnet50, densenet121, efficientnet_b0 (2D); resnet18_3d, resnet50_3d, fmcib (3D)")
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
    _add_run_options(p, default_jobs=1, jobs_help="worker processes, each with its own copy of the network and "
                                                   "its share of the cores (1: torch uses every core itself)")
    p.set_defaults(func=cmd_deep)


def _add_merge(sub) -> None:
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


def cmd_deep(args) -> int:
    from .errors import SettingsError, WorkshopError
    from .progress import Progress

    progress = Progress(args.progress, step="deep-features")
    try:
        from .deep_cohort import DeepSettings, run_deep_features

        if args.batch_size < 1 or args.jobs < 1:
            raise SettingsError("--batch-size and --jobs must be at least 1")
        settings = DeepSettings(model=args.model, weights=args.weights, layer=args.layer, modality=args.modality,
                                margin_mm=args.margin_mm, context_slices=args.context_slices,
                                patch_mm=args.patch_mm, batch_size=args.batch_size, device=args.device,
                                precision=args.precision)
        args.command = "extract"  # --image needs --mask, as for extraction
        cases = _cases_from_args(args)
        summary = run_deep_features(cases, settings, args.out, overwrite=args.overwrite,
                                    retry_failed=args.retry_failed, resample_mask=args.resample_mask,
                                    progress=progress, jobs=args.jobs, scheduler=args.scheduler,
                                    timeout=args.timeout)
    except WorkshopError as exc:
        progress.close()
        return _fail(progress, exc)
    _report(progress, summary, len(cases), "row(s)")
    return EXIT_OK if summary.ok else EXIT_SOME_FAILED


def cmd_merge(args) -> int:
    from .errors import OutputExistsError, WorkshopError

    try:
        from .merge import merge_tables
        from .tables import check_table_path, write_table

        out = check_table_path(args.out)
        if out.exists() and not args.overwrite:
            raise OutputExistsError("output exists", file=out, hint="pass --overwrite or choose another --out")
        merged, report = merge_tables(args.tables, args.clinical, clinical_key=args.clinical_key, inner=args.inner)
        write_table(merged, out)
    except WorkshopError as exc:
        return _fail(None, exc)
    for line in report:
        print(f"note: {line}", file=sys.stderr)
    print(f"{len(merged)} row(s), {merged.shape[1]} column(s) -> {out}", file=sys.stderr)
    return EXIT_OK


def _add_model_inputs(p, *, outcome: bool = True) -> None:
    group = p.add_argument_group("tables")
    group.add_argument("--table", action="append", required=True, metavar="FEATURES",
                       help="feature table (.csv/.parquet); repeat to join several on (case_id, roi), e.g. "
                            "radiomics + deep features")
    group.add_argument("--clinical", help="clinical CSV joined on case_id (may hold the outcome, patient_id, site "
                                          "or clinical predictors; a cohort manifest works)")
    group.add_argument("--inner", action="store_true", help="keep the keys all tables share (and say what was dropped)")
    if outcome:
        group.add_argument("--outcome", required=True, help="outcome column (two or more classes)")
        group.add_argument("--group", help="column grouping rows by patient (default: patient_id when present); rows "
                                           "of one patient never sit on both sides of a split")
        group.add_argument("--site", help="site/scanner column (needed by --harmonize); never a feature")
        group.add_argument("--exclude", action="append", default=[], metavar="COLUMN",
                           help="column that is not a feature; repeat for several")


def _add_train(sub) -> None:
    from .model_settings import CLASSIFIERS, IMBALANCE, PENALTIES, SCALINGS, SELECTIONS

    p = sub.add_parser(
        "train", help="train and validate a classifier on feature tables (nested, patient-grouped CV)",
        description="Develop a model: every step (near-constant filter, imputation, scaling, optional ComBat, "
                    "correlation filter, selection, imbalance handling, classifier) is fitted inside the "
                    "cross-validation folds. Nested CV (outer: estimate; inner: hyperparameters), grouped by "
                    "patient; metrics with 95% CIs from a patient bootstrap; the final model refitted on all "
                    "training rows is saved (skops + card.json) with an HTML report.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    _add_model_inputs(p)
    model = p.add_argument_group("model")
    model.add_argument("--classifier", choices=CLASSIFIERS, default="logistic")
    model.add_argument("--penalty", choices=list(PENALTIES), default="l2", help="logistic regression penalty")
    model.add_argument("--selection", choices=SELECTIONS, default="anova")
    model.add_argument("--k", default="10", help="features to select; several (5,10,20): the inner CV chooses")
    model.add_argument("--threshold", type=float,
                       help="instead of --k: p-value (anova, mannwhitney) or importance threshold (lasso, "
                            "random_forest)")
    model.add_argument("--correlation", type=float, default=0.9,
                       help="|Spearman| above which features are redundant (0: no redundancy removal)")
    model.add_argument("--scaling", choices=SCALINGS, default="standard")
    model.add_argument("--imbalance", choices=IMBALANCE, default="class_weight")
    model.add_argument("--harmonize", action="store_true", help="ComBat by --site, fitted on training folds")
    model.add_argument("--positive", help="positive class (two classes; default: the second in sorted order)")
    validation = p.add_argument_group("validation")
    validation.add_argument("--outer-folds", type=int, default=5)
    validation.add_argument("--inner-folds", type=int, default=5)
    validation.add_argument("--folds", help="fold assignment to reuse (a model's folds.csv: group,fold)")
    validation.add_argument("--split-column", help="column with train/test per row: CV on train, test held out")
    validation.add_argument("--test-table", action="append", metavar="FEATURES",
                            help="external test table(s), joined like --table")
    validation.add_argument("--test-clinical", help="clinical CSV for the external test table")
    validation.add_argument("--bootstrap", type=int, default=1000, help="patient bootstrap resamples for the CIs")
    validation.add_argument("--seed", type=int, default=0)
    run = p.add_argument_group("run")
    run.add_argument("--out", required=True, help="model folder to write")
    run.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="processes for the inner grid search")
    run.add_argument("--overwrite", action="store_true", help="replace an existing model folder")
    run.add_argument("--progress", choices=["auto", "bar", "jsonl", "none"], default="auto")
    p.set_defaults(func=cmd_train)


def _add_predict(sub) -> None:
    p = sub.add_parser("predict", help="apply a trained model to new cases",
                       description="Predicted class and per-class probabilities for every row of the table(s). "
                                   "The table must hold every feature the model was trained on (the error names "
                                   "the missing ones); other columns are ignored.")
    p.add_argument("--model", required=True, help="model folder written by `train`")
    _add_model_inputs(p, outcome=False)
    p.add_argument("--out", required=True, help="predictions table, .csv or .parquet")
    p.add_argument("--overwrite", action="store_true")
    p.add_argument("--progress", choices=["auto", "bar", "jsonl", "none"], default="auto",
                   help="jsonl: errors and the result as JSON events on stdout (for Slicer)")
    p.set_defaults(func=cmd_predict)


def _add_report(sub) -> None:
    p = sub.add_parser("report", help="rebuild a model's HTML report from its card",
                       description="Write the HTML report (figures embedded) of a model folder from its card.json.")
    p.add_argument("--model", required=True, help="model folder written by `train` or `train-cnn`")
    p.add_argument("--compare", nargs="+", metavar="MODEL",
                   help="other model folders (radiomics, deep features, radiomics + deep, train-cnn) validated on the "
                        "same folds: the report gains a comparison section (metrics with CIs, ROC curves overlaid, "
                        "DeLong tests), written also as comparison.csv and comparison_delong.csv beside the report")
    p.add_argument("--names", nargs="+", help="names of --model and the --compare models in the comparison "
                                              "(default: their folder names)")
    p.add_argument("--bootstrap", type=int, default=1000, help="patient bootstrap resamples for the comparison's CIs")
    p.add_argument("--out", help="HTML file (default: report.html in the model folder)")
    p.add_argument("--progress", choices=["auto", "bar", "jsonl", "none"], default="auto",
                   help="jsonl: errors and the result as JSON events on stdout (for Slicer)")
    p.set_defaults(func=cmd_report)


def _add_cnn(sub) -> None:
    from .cnn_settings import BACKBONES, SCHEDULES, CnnSettings

    defaults = CnnSettings()
    p = sub.add_parser(
        "train-cnn", help="train an end-to-end CNN classifier (MONAI) on ROI-centred crops, cross-validated on the "
                          "radiomics model's folds",
        description="Train a MONAI ResNet, DenseNet or EfficientNet on ROI-centred crops of the manifest's cases "
                    "(2D: every slice holding the ROI, predictions averaged per case; 3D: one patch per case), with "
                    "augmentation, class weights, early stopping on a patient-grouped validation split and a "
                    "learning-rate schedule. Performance by cross-validation on patient-grouped folds: give the "
                    "radiomics model's folds.csv (--folds) to compare the two on the same patients (report "
                    "--compare). Writes a MONAI bundle + card.json, out-of-fold predictions.csv, folds.csv and "
                    "report.html. A checkpoint is written every epoch: the same command resumes an interrupted run.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--manifest", required=True, help="manifest CSV (case_id,image,mask + the outcome column)")
    p.add_argument("--outcome", required=True, help="outcome column of the manifest (e.g. label)")
    p.add_argument("--group", help="patient column (default: patient_id when present, else one patient per case)")
    p.add_argument("--out", required=True, help="classifier folder to write")
    p.add_argument("--folds", help="fold assignment to reuse (the radiomics model's folds.csv: group,fold)")
    net = p.add_argument_group("network")
    net.add_argument("--dims", type=int, choices=[2, 3], default=defaults.dims,
                     help="2: ROI slices, averaged per case; 3: one ROI-centred patch per case")
    net.add_argument("--backbone", choices=BACKBONES, default=defaults.backbone)
    net.add_argument("--width", type=int, default=defaults.width,
                     help="ResNet: channels of the first stage (64 standard; 16 trains in minutes on a CPU)")
    net.add_argument("--crop", type=int, default=defaults.crop, help="crop size around the ROI, voxels")
    net.add_argument("--mask-channel", action="store_true", help="give the ROI mask as a second input channel")
    net.add_argument("--intensity", choices=["zscore", "ct"], default=defaults.intensity)
    net.add_argument("--weights", help="fine-tune from this state dict (same backbone; the head is not loaded)")
    train = p.add_argument_group("training")
    train.add_argument("--epochs", type=int, default=defaults.epochs)
    train.add_argument("--batch-size", type=int, default=defaults.batch_size)
    train.add_argument("--lr", type=float, default=defaults.learning_rate)
    train.add_argument("--weight-decay", type=float, default=defaults.weight_decay)
    train.add_argument("--patience", type=int, default=defaults.patience,
                       help="early stopping: epochs without a lower validation loss")
    train.add_argument("--schedule", choices=SCHEDULES, default=defaults.schedule)
    train.add_argument("--validation-fraction", type=float, default=defaults.validation_fraction,
                       help="patients of each training set held out for early stopping")
    train.add_argument("--no-augment", action="store_true", help="no flips, rotations or intensity changes")
    train.add_argument("--elastic", action="store_true", help="add elastic deformations to the augmentation")
    train.add_argument("--no-class-weights", action="store_true", help="unweighted loss")
    train.add_argument("--positive", help="positive class (two classes; default: the second in sorted order)")
    validation = p.add_argument_group("validation")
    validation.add_argument("--outer-folds", type=int, default=defaults.outer_folds)
    validation.add_argument("--bootstrap", type=int, default=defaults.bootstrap)
    validation.add_argument("--seed", type=int, default=defaults.seed)
    run = p.add_argument_group("run")
    run.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    run.add_argument("--workers", type=int, default=defaults.workers, help="DataLoader worker processes")
    run.add_argument("--no-cache", action="store_true", help="read every crop again every epoch (less memory)")
    run.add_argument("--overwrite", action="store_true", help="replace an existing classifier folder")
    run.add_argument("--progress", choices=["auto", "bar", "jsonl", "none"], default="auto")
    p.set_defaults(func=cmd_train_cnn)
    p = sub.add_parser("predict-cnn", help="apply a trained CNN classifier to the cases of a manifest",
                       description="One row per case: the predicted class and per-class probabilities (slices "
                                   "averaged per case for a 2D network).")
    p.add_argument("--model", required=True, help="classifier folder written by `train-cnn`")
    p.add_argument("--manifest", required=True, help="manifest CSV (case_id,image,mask)")
    p.add_argument("--out", required=True, help="predictions table, .csv or .parquet")
    p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    p.add_argument("--overwrite", action="store_true")
    p.add_argument("--progress", choices=["auto", "bar", "jsonl", "none"], default="auto")
    p.set_defaults(func=cmd_predict_cnn)


def cmd_train_cnn(args) -> int:
    from .errors import WorkshopError
    from .progress import Progress

    progress = Progress(args.progress, step="train-cnn")
    try:
        from .cnn import describe, train_cnn
        from .cnn_settings import CnnSettings

        settings = CnnSettings(
            dims=args.dims, backbone=args.backbone, width=args.width, crop=args.crop, mask_channel=args.mask_channel,
            intensity=args.intensity, epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.lr,
            weight_decay=args.weight_decay, patience=args.patience, schedule=args.schedule,
            validation_fraction=args.validation_fraction, augment=not args.no_augment, elastic=args.elastic,
            class_weights=not args.no_class_weights, outer_folds=args.outer_folds, bootstrap=args.bootstrap,
            seed=args.seed, workers=args.workers, cache=not args.no_cache)
        result = train_cnn(args.manifest, args.outcome, args.out, settings, group=args.group, folds_file=args.folds,
                           weights=args.weights, positive_class=args.positive, device=args.device,
                           overwrite=args.overwrite, progress=progress)
    except WorkshopError as exc:
        progress.close()
        return _fail(progress, exc)
    progress.close()
    if progress.mode != "jsonl":
        summary = describe(result.card)
        low, high = summary["ci95"]
        print(f"cross-validation: AUC {summary['auc']:.3f} (95% CI {low:.3f}-{high:.3f}) over {summary['folds']} "
              f"folds (best epochs {summary['best_epochs']}) -> {result.folder} (report.html, "
              f"{result.seconds:.1f} s)", file=sys.stderr)
    return EXIT_OK


def cmd_predict_cnn(args) -> int:
    from .errors import WorkshopError
    from .progress import Progress

    progress = Progress(args.progress, step="predict-cnn")
    try:
        from .cnn import predict_cnn

        predictions = predict_cnn(args.model, args.manifest, args.out, device=args.device, overwrite=args.overwrite)
    except WorkshopError as exc:
        return _fail(progress, exc)
    return _predictions_done(progress, args.out, predictions)


def cmd_train(args) -> int:
    from .errors import SettingsError, WorkshopError
    from .progress import Progress

    progress = Progress(args.progress, step="train")
    try:
        from .model_settings import ModelSettings
        from .model_workflow import train_model

        try:
            k = tuple(int(v) for v in str(args.k).split(",") if v.strip())
        except ValueError:
            raise SettingsError(f"--k must be a number or numbers separated by commas, not '{args.k}'") from None
        if args.jobs < 1:
            raise SettingsError("--jobs must be at least 1")
        settings = ModelSettings(
            classifier=args.classifier, penalty=args.penalty, selection=args.selection, k=k,
            threshold=args.threshold, correlation_threshold=args.correlation or None, scaling=args.scaling,
            imbalance=args.imbalance, harmonize=args.harmonize, outer_folds=args.outer_folds,
            inner_folds=args.inner_folds, bootstrap=args.bootstrap, seed=args.seed, positive_class=args.positive)
        result = train_model(args.table, args.outcome, args.out, settings, clinical=args.clinical, group=args.group,
                             site=args.site, exclude=tuple(args.exclude), split_column=args.split_column,
                             test_tables=args.test_table, test_clinical=args.test_clinical, folds_file=args.folds,
                             inner_join=args.inner, jobs=args.jobs, overwrite=args.overwrite, progress=progress)
    except WorkshopError as exc:
        progress.close()
        return _fail(progress, exc)
    progress.close()
    if progress.mode != "jsonl":
        card = result.card
        cv = card["cross_validation"]
        low, high = cv["ci95"]["auc"]
        print(f"nested CV: AUC {cv['metrics']['auc']:.3f} (95% CI {low:.3f}-{high:.3f}), balanced accuracy "
              f"{cv['metrics']['balanced_accuracy']:.3f}; {card['training_data']['rows']} rows, "
              f"{card['training_data']['patients']} patients; final model uses "
              f"{len(card['final_model']['selected_features'])} feature(s) -> {result.folder} "
              f"(report.html, {result.seconds:.1f} s)", file=sys.stderr)
        if card.get("test"):
            low, high = card["test"]["ci95"]["auc"]
            print(f"test: AUC {card['test']['metrics']['auc']:.3f} (95% CI {low:.3f}-{high:.3f})", file=sys.stderr)
    return EXIT_OK


def cmd_predict(args) -> int:
    from .errors import WorkshopError
    from .progress import Progress

    progress = Progress(args.progress, step="predict")
    try:
        from .model_workflow import predict_model

        predictions = predict_model(args.model, args.table, args.out, clinical=args.clinical, inner_join=args.inner,
                                    overwrite=args.overwrite)
    except WorkshopError as exc:
        return _fail(progress, exc)
    return _predictions_done(progress, args.out, predictions)


def _predictions_done(progress, out, predictions) -> int:
    progress.result(out, rows=len(predictions))
    if progress.mode != "jsonl":
        counts = predictions["predicted"].value_counts().to_dict()
        print(f"{len(predictions)} prediction(s) {counts} -> {out}", file=sys.stderr)
    return EXIT_OK


def cmd_report(args) -> int:
    from .errors import WorkshopError
    from .progress import Progress

    progress = Progress(args.progress, step="report")
    try:
        from .model_report import write_report
        from .model_store import read_card
        from .tables import read_json

        card_file = Path(args.model) / "card.json"
        if card_file.is_file() and read_json(card_file).get("kind") == "cnn":
            from .cnn import read_cnn_card

            card = read_cnn_card(args.model)
        else:
            card = read_card(args.model)
        comparison = None
        path = Path(args.out) if args.out else Path(args.model) / "report.html"
        if args.compare:
            from .model_compare import compare_models, write_comparison_tables

            comparison = compare_models([args.model, *args.compare], args.names, bootstrap=args.bootstrap)
            write_comparison_tables(comparison, path.parent)
        path = write_report(card, path, comparison)
    except WorkshopError as exc:
        return _fail(progress, exc)
    progress.result(str(path), compared=len(comparison.names) if comparison else 0)
    print(f"report -> {path}", file=sys.stderr)
    return EXIT_OK


def _add_segmentation(sub) -> None:
    p = sub.add_parser(
        "train-seg", help="train a 3D segmentation network (MONAI) on image/mask pairs; writes a MONAI bundle",
        description="Train a MONAI UNet or SegResNet on the cases of a manifest (image, mask), holding out a "
                    "fraction for validation Dice per epoch (early stopping keeps the best epoch). Writes a MONAI "
                    "bundle (configs/inference.json, configs/metadata.json, models/model.pt). A checkpoint is "
                    "written every epoch: run the same command again to resume an interrupted training.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--manifest", required=True, help="manifest CSV (case_id,image,mask)")
    p.add_argument("--out", required=True, help="bundle folder to write")
    p.add_argument("--network", choices=["unet", "segresnet"], default="unet")
    p.add_argument("--spacing", type=float, nargs=3, default=[1.0, 1.0, 1.0], metavar=("X", "Y", "Z"),
                   help="voxel size the network works at (mm)")
    p.add_argument("--patch", type=int, nargs=3, default=[96, 96, 64], metavar=("X", "Y", "Z"),
                   help="training crop and sliding-window size (voxels; multiples of 8)")
    p.add_argument("--intensity", choices=["zscore", "ct"], default="zscore",
                   help="zscore (MR) or ct (-1000..1000 HU scaled to 0..1)")
    p.add_argument("--channels", type=int, nargs="+", default=[16, 32, 64, 128],
                   help="feature channels per resolution level (UNet); the first: SegResNet's initial filters")
    p.add_argument("--epochs", type=int, default=100)
    p.add_argument("--patience", type=int, default=20, help="stop after this many epochs without a better Dice")
    p.add_argument("--learning-rate", type=float, default=2e-3)
    p.add_argument("--elastic", action="store_true", help="add elastic deformation to the augmentation")
    p.add_argument("--label-name", default="lesion", help="name of label 1 (recorded in the bundle)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", choices=["cpu", "cuda", "auto"], default="auto")
    p.add_argument("--overwrite", action="store_true", help="replace a trained bundle in --out")
    p.add_argument("--progress", choices=["auto", "bar", "jsonl", "none"], default="auto")
    p.set_defaults(func=cmd_train_seg)

    p = sub.add_parser(
        "segment", help="segment one image or a cohort with a MONAI bundle (ours or from the model zoo)",
        description="Run a bundle on --image (writes --out) or on every image of --manifest (columns "
                    "case_id,image[,mask,...]; writes <case_id>_seg.nrrd and manifest.csv, with the predictions as "
                    "masks and any input mask as reference_mask, under --out-dir; resumable, like extract). "
                    "The label map has the input image's grid; uint8.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--model", required=True, help="MONAI bundle folder")
    p.add_argument("--image", help="one image")
    p.add_argument("--out", help="label map to write for --image (.nrrd, .nii.gz, .seg.nrrd not supported)")
    p.add_argument("--manifest", help="cohort manifest (case_id,image[,mask])")
    p.add_argument("--out-dir", help="folder for the label maps of --manifest")
    p.add_argument("--reference", help="with --image: a reference label map to compare with (Dice, IoU, HD95, "
                                       "surface Dice per label)")
    p.add_argument("--metrics-out", help="with --reference: the comparison table (.csv/.parquet)")
    p.add_argument("--tta", action="store_true", help="average over mirrored copies (3 flips)")
    p.add_argument("--no-postprocess", action="store_true", help="keep every component, do not fill holes")
    p.add_argument("--device", choices=["cpu", "cuda", "auto"], default="auto")
    _add_run_options(p, out_help=None, default_jobs=1,
                     jobs_help="--manifest: worker processes, each with its own copy of the network and its share "
                               "of the cores (1: torch uses every core itself)")
    p.set_defaults(func=cmd_segment)

    p = sub.add_parser(
        "evaluate-seg", help="Dice, IoU, 95%% Hausdorff distance and surface Dice of segmentations",
        description="Compare predictions with references, per case and label, in physical space (mm). Either "
                    "--prediction/--reference, or --manifest (its mask column is the reference) with "
                    "--predictions DIR holding <case_id>_seg.nrrd as `segment` writes them.")
    p.add_argument("--prediction")
    p.add_argument("--reference")
    p.add_argument("--manifest")
    p.add_argument("--predictions", help="folder of <case_id>_seg.nrrd")
    p.add_argument("--tolerance-mm", type=float, default=1.0, help="surface Dice tolerance")
    p.add_argument("--out", required=True, help="table, .csv or .parquet")
    p.add_argument("--overwrite", action="store_true")
    p.set_defaults(func=cmd_evaluate_seg)


def cmd_train_seg(args) -> int:
    from .errors import WorkshopError
    from .progress import Progress

    progress = Progress(args.progress, step="train-seg")
    try:
        from .autoseg import SegSettings, train_segmentation
        from .manifest import read_manifest

        settings = SegSettings(network=args.network, spacing=tuple(args.spacing), patch=tuple(args.patch),
                               intensity=args.intensity, channels=tuple(args.channels), epochs=args.epochs,
                               patience=args.patience,
                               learning_rate=args.learning_rate, elastic=args.elastic, seed=args.seed,
                               labels={"0": "background", "1": args.label_name})
        result = train_segmentation(read_manifest(args.manifest), args.out, settings, device=args.device,
                                    overwrite=args.overwrite, progress=progress)
    except WorkshopError as exc:
        progress.close()
        return _fail(progress, exc)
    progress.close()
    progress.result(str(result.folder), dice=result.best_dice)
    if progress.mode != "jsonl":
        print(f"best validation Dice {result.best_dice:.3f} after {result.epochs} epoch(s)"
              f"{f' (resumed at epoch {result.resumed_from + 1})' if result.resumed_from else ''} -> {result.folder} "
              f"({result.seconds:.0f} s)", file=sys.stderr)
    return EXIT_OK


def cmd_segment(args) -> int:
    from .errors import OutputExistsError, SettingsError, WorkshopError
    from .progress import Progress

    progress = Progress(args.progress, step="segment")
    try:
        if bool(args.image) == bool(args.manifest) or bool(args.image) != bool(args.out) or \
                bool(args.manifest) != bool(args.out_dir):
            raise SettingsError("give --image with --out, or --manifest with --out-dir")
        if bool(args.reference) != bool(args.metrics_out) or (args.reference and not args.image):
            raise SettingsError("--reference and --metrics-out go together, with --image")
        if args.jobs < 1:
            raise SettingsError("--jobs must be at least 1")
        if args.manifest:
            from .manifest import read_manifest
            from .seg_cohort import SegmentOptions, run_segmentation

            cases = read_manifest(args.manifest, require_mask=False)
            options = SegmentOptions(bundle=str(Path(args.model).resolve()), tta=args.tta,
                                     postprocess=not args.no_postprocess, device=args.device)
            summary = run_segmentation(cases, options, args.out_dir, overwrite=args.overwrite,
                                       retry_failed=args.retry_failed, progress=progress, jobs=args.jobs,
                                       scheduler=args.scheduler, timeout=args.timeout)
            _report(progress, summary, len(cases), "label map(s)")
            return EXIT_OK if summary.ok else EXIT_SOME_FAILED
        from .autoseg import load_bundle, segment
        from .images import read_image, write_image

        out = Path(args.out)
        if out.exists() and not args.overwrite:
            raise OutputExistsError("output exists", file=out, hint="pass --overwrite or choose another output")
        bundle = load_bundle(args.model, device=args.device)
        case_id = Path(args.image).name.split(".")[0]
        progress.start(1)
        image = read_image(args.image, case_id=case_id)
        labels = segment(bundle, image, tta=args.tta, postprocess=not args.no_postprocess,
                         warn=lambda message: progress.log(f"{case_id}: {message}", "warning"))
        write_image(labels, out)
        progress.advance(case_id)
        if args.reference:
            from .seg_metrics import evaluate_files
            from .tables import write_table

            write_table(evaluate_files([(case_id, args.out, args.reference)]), args.metrics_out)
    except WorkshopError as exc:
        progress.close()
        return _fail(progress, exc)
    progress.close()
    progress.result(str(args.out), failed=0)
    return EXIT_OK


def cmd_evaluate_seg(args) -> int:
    from .errors import OutputExistsError, SettingsError, WorkshopError

    try:
        from .seg_metrics import evaluate_files
        from .tables import check_table_path, write_table

        out = check_table_path(args.out)
        if out.exists() and not args.overwrite:
            raise OutputExistsError("output exists", file=out, hint="pass --overwrite or choose another --out")
        if args.prediction and args.reference:
            pairs = [(Path(args.prediction).name.split(".")[0], args.prediction, args.reference)]
        elif args.manifest and args.predictions:
            from .manifest import read_manifest

            pairs = [(c.case_id, Path(args.predictions) / f"{c.case_id}_seg.nrrd", c.mask)
                     for c in read_manifest(args.manifest)]
        else:
            raise SettingsError("give --prediction and --reference, or --manifest and --predictions")
        table = evaluate_files(pairs, tolerance_mm=args.tolerance_mm)
        write_table(table, out)
    except WorkshopError as exc:
        return _fail(None, exc)
    means = table[["dice", "iou", "hausdorff95_mm", "surface_dice"]].mean().round(3).to_dict()
    print(f"{table['case_id'].nunique()} case(s): mean {means} -> {out}", file=sys.stderr)
    return EXIT_OK


def _add_presets(sub) -> None:
    p = sub.add_parser("presets", help="list the shipped extraction presets, or print one",
                       description="List the shipped presets, or print one (a PyRadiomics parameter file) "
                                   "to start your own from.")
    p.add_argument("name", nargs="?", help="preset to print")
    p.set_defaults(func=cmd_presets)


def _add_sample_data(sub) -> None:
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


def _add_demo(sub) -> None:
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
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="cores to use")
    p.add_argument("--overwrite", action="store_true", help="run again into an --out that holds a previous demo")
    p.add_argument("--progress", choices=["auto", "bar", "none"], default="auto", help="progress of each step")
    p.set_defaults(func=cmd_demo)


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(
        prog="radiomics-workshop",
        description="RadiomicsWorkshop: the radiomics workflow from the command line "
                    "(the same core the 3D Slicer module runs).")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="<step>")
    _add_extract(sub)
    _add_preprocess(sub)
    _add_deep(sub)
    _add_merge(sub)
    _add_train(sub)
    _add_predict(sub)
    _add_report(sub)
    _add_cnn(sub)
    _add_segmentation(sub)
    _add_presets(sub)
    _add_sample_data(sub)
    _add_demo(sub)
    return parser


def _fail(progress, exc) -> int:
    message = str(exc)
    if progress is not None and progress.mode == "jsonl":
        progress.error(message, **({"file": exc.file, "case_id": exc.case_id, "hint": exc.hint}
                                   if hasattr(exc, "hint") else {}))
    else:
        print(f"radiomics-workshop: error: {message}", file=sys.stderr)
    return EXIT_ERROR


def cmd_extract(args) -> int:
    from .progress import Progress

    progress = Progress(args.progress, step="extract")
    from .errors import SettingsError, WorkshopError

    try:
        if args.jobs < 1:
            raise SettingsError("--jobs must be at least 1")
        from .cohort import run_cohort
        from .presets import load_params

        params = load_params(preset=args.preset, params_file=args.params)
        if args.preprocess:
            from .recipes import load_recipe

            params.recipe = load_recipe(args.preprocess)
            if params.recipe.needs_cohort_fit():
                raise SettingsError("this recipe learns histogram landmarks on a cohort",
                                    hint="run `radiomics-workshop preprocess --manifest ...` first, then extract "
                                         "from the manifest it writes")
        cases = _cases_from_args(args)
        summary = run_cohort(cases, params, args.out, jobs=args.jobs, overwrite=args.overwrite,
                             retry_failed=args.retry_failed, resample_mask=args.resample_mask,
                             roi_crop=not args.no_roi_crop, progress=progress, scheduler=args.scheduler,
                             timeout=args.timeout)
    except WorkshopError as exc:
        progress.close()
        return _fail(progress, exc)
    _report(progress, summary, len(cases), "row(s)")
    return EXIT_OK if summary.ok else EXIT_SOME_FAILED


def cmd_presets(args) -> int:
    from .errors import WorkshopError
    from .presets import list_presets, preset_path

    if args.name:
        try:
            print(preset_path(args.name).read_text(), end="")
        except WorkshopError as exc:
            return _fail(None, exc)
    else:
        for name in list_presets():
            print(name)
    return EXIT_OK


def cmd_sample_data(args) -> int:
    from .errors import SettingsError, WorkshopError

    try:
        if args.phantoms is None:
            if args.seed is not None or args.overwrite or args.kind:
                raise SettingsError("--seed, --kind and --overwrite apply to --phantoms N")
            from .sampledata import fetch_sample_data, write_sample_manifest

            folder = fetch_sample_data(Path(args.dest))
            if args.manifest:
                write_sample_manifest(folder, Path(args.manifest))
            print(f"sample data in {folder}", file=sys.stderr)
            return EXIT_OK
        from .phantoms import DEFAULT_SEED, write_phantom_cohort

        manifest = write_phantom_cohort(args.dest, args.phantoms, manifest=args.manifest, overwrite=args.overwrite,
                                        seed=DEFAULT_SEED if args.seed is None else args.seed,
                                        kind=args.kind or "lesions")
    except WorkshopError as exc:
        return _fail(None, exc)
    print(f"{args.phantoms} {'slice-wise' if args.kind == 'slices' else 'lesion'} phantoms in {args.dest}, "
          f"manifest {manifest}", file=sys.stderr)
    return EXIT_OK


def cmd_demo(args) -> int:
    from .errors import WorkshopError

    try:
        from .demo import DemoSettings, run_demo

        settings = DemoSettings(phantoms=args.phantoms, seg_epochs=args.seg_epochs, jobs=args.jobs,
                                progress=args.progress)
        run_demo(args.out, settings, data=args.data, ibsi=args.ibsi, overwrite=args.overwrite)
    except WorkshopError as exc:
        return _fail(None, exc)
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_ERROR
    os.environ.setdefault("PYTHONWARNINGS", "ignore::DeprecationWarning")
    return args.func(args)
