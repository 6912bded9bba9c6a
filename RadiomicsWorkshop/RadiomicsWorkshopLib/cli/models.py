"""Commands of model development: train, predict, report, train-cnn, predict-cnn."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .common import (EXIT_OK, add_progress_option, add_threads_option, check_jobs, cores, default_cores, predictions_done,
                     runs)


def add_parsers(sub) -> None:
    add_train(sub)
    add_predict(sub)
    add_report(sub)
    add_cnn(sub)


def add_model_inputs(p, *, outcome: bool = True) -> None:
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


def add_train(sub) -> None:
    from ..modeling.settings import CLASSIFIERS, IMBALANCE, PENALTIES, SCALINGS, SELECTIONS

    p = sub.add_parser(
        "train", help="train and validate a classifier on feature tables (nested, patient-grouped CV)",
        description="Develop a model: every step (near-constant filter, imputation, scaling, optional ComBat, "
                    "correlation filter, selection, imbalance handling, classifier) is fitted inside the "
                    "cross-validation folds. Nested CV (outer: estimate; inner: hyperparameters), grouped by "
                    "patient; metrics with 95% CIs from a patient bootstrap; the final model refitted on all "
                    "training rows is saved (skops + card.json) with an HTML report.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    add_model_inputs(p)
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
    model.add_argument("--deep-pca", type=float, metavar="N_OR_FRACTION",
                       help="replace the deep_ feature columns by their principal components, fitted inside the "
                            "folds: a number of components, or the fraction of variance to keep (0.95)")
    model.add_argument("--robust-icc", type=float, metavar="ICC",
                       help="keep only features whose ICC(1,1) lower 95%% bound reaches ICC, computed inside the "
                            "folds from the training patients' rows of --robustness-table")
    model.add_argument("--robustness-table", help="the training cohort's robustness table (radiomics-workshop "
                                                  "robustness: <out>/features.csv)")
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
    run.add_argument("--jobs", type=cores, default=default_cores(), help="processes for the inner grid search")
    run.add_argument("--overwrite", action="store_true", help="replace an existing model folder")
    add_progress_option(run, help=None)
    p.set_defaults(func=cmd_train)


def add_predict(sub) -> None:
    p = sub.add_parser("predict", help="apply a trained model to new cases",
                       description="Predicted class and per-class probabilities for every row of the table(s). "
                                   "The table must hold every feature the model was trained on (the error names "
                                   "the missing ones); other columns are ignored.")
    p.add_argument("--model", required=True, help="model folder written by `train`")
    add_model_inputs(p, outcome=False)
    p.add_argument("--out", required=True, help="predictions table, .csv or .parquet")
    p.add_argument("--overwrite", action="store_true")
    add_progress_option(p, help="jsonl: errors and the result as JSON events on stdout (for Slicer)")
    p.set_defaults(func=cmd_predict)


def add_report(sub) -> None:
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
    add_progress_option(p, help="jsonl: errors and the result as JSON events on stdout (for Slicer)")
    p.set_defaults(func=cmd_report)


def add_cnn(sub) -> None:
    from ..cnn.settings import BACKBONES, SCHEDULES, CnnSettings
    from ..deep.names import canonical_name

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
    net.add_argument("--backbone", type=canonical_name, choices=BACKBONES, default=defaults.backbone)
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
    add_threads_option(run)
    run.add_argument("--no-cache", action="store_true", help="read every crop again every epoch (less memory)")
    run.add_argument("--overwrite", action="store_true", help="replace an existing classifier folder")
    add_progress_option(run, help=None)
    p.set_defaults(func=cmd_train_cnn)
    p = sub.add_parser("predict-cnn", help="apply a trained CNN classifier to the cases of a manifest",
                       description="One row per case: the predicted class and per-class probabilities (slices "
                                   "averaged per case for a 2D network).",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--model", required=True, help="classifier folder written by `train-cnn`")
    p.add_argument("--manifest", required=True, help="manifest CSV (case_id,image,mask)")
    p.add_argument("--out", required=True, help="predictions table, .csv or .parquet")
    p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    add_threads_option(p)
    p.add_argument("--overwrite", action="store_true")
    add_progress_option(p, help=None)
    p.set_defaults(func=cmd_predict_cnn)



@runs("train")
def cmd_train(args, progress) -> int:
    from ..io.errors import SettingsError
    from ..modeling.settings import ModelSettings
    from ..modeling.workflow import train_model

    try:
        k = tuple(int(v) for v in str(args.k).split(",") if v.strip())
    except ValueError:
        raise SettingsError(f"--k must be a number or numbers separated by commas, not '{args.k}'") from None
    check_jobs(args)
    settings = ModelSettings(
        classifier=args.classifier, penalty=args.penalty, selection=args.selection, k=k,
        threshold=args.threshold, correlation_threshold=args.correlation or None, scaling=args.scaling,
        imbalance=args.imbalance, harmonize=args.harmonize, deep_pca=args.deep_pca, outer_folds=args.outer_folds,
        inner_folds=args.inner_folds, bootstrap=args.bootstrap, seed=args.seed, positive_class=args.positive,
        robust_icc=args.robust_icc, robustness_table=args.robustness_table)
    result = train_model(args.table, args.outcome, args.out, settings, clinical=args.clinical, group=args.group,
                         site=args.site, exclude=tuple(args.exclude), split_column=args.split_column,
                         test_tables=args.test_table, test_clinical=args.test_clinical, folds_file=args.folds,
                         inner_join=args.inner, jobs=args.jobs, overwrite=args.overwrite, progress=progress)
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


@runs("predict")
def cmd_predict(args, progress) -> int:
    from ..modeling.workflow import predict_model

    predictions = predict_model(args.model, args.table, args.out, clinical=args.clinical, inner_join=args.inner,
                                overwrite=args.overwrite)
    return predictions_done(progress, args.out, predictions)


@runs("report")
def cmd_report(args, progress) -> int:
    from ..modeling.report import write_report
    from ..modeling.store import CARD_FORMATS, read_card

    card = read_card(args.model, kinds=tuple(CARD_FORMATS))
    comparison = None
    path = Path(args.out) if args.out else Path(args.model) / "report.html"
    if args.compare:
        from ..modeling.compare import compare_models, write_comparison_tables

        comparison = compare_models([args.model, *args.compare], args.names, bootstrap=args.bootstrap)
        write_comparison_tables(comparison, path.parent)
    path = write_report(card, path, comparison)
    progress.result(str(path), compared=len(comparison.names) if comparison else 0)
    print(f"report -> {path}", file=sys.stderr)
    return EXIT_OK


@runs("train-cnn")
def cmd_train_cnn(args, progress) -> int:
    from ..cnn.settings import CnnSettings
    from ..cnn.workflow import describe, train_cnn

    check_jobs(args)
    settings = CnnSettings(
        dims=args.dims, backbone=args.backbone, width=args.width, crop=args.crop, mask_channel=args.mask_channel,
        intensity=args.intensity, epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.lr,
        weight_decay=args.weight_decay, patience=args.patience, schedule=args.schedule,
        validation_fraction=args.validation_fraction, augment=not args.no_augment, elastic=args.elastic,
        class_weights=not args.no_class_weights, outer_folds=args.outer_folds, bootstrap=args.bootstrap,
        seed=args.seed, workers=args.workers, cache=not args.no_cache)
    result = train_cnn(args.manifest, args.outcome, args.out, settings, group=args.group, folds_file=args.folds,
                       weights=args.weights, positive_class=args.positive, device=args.device,
                       overwrite=args.overwrite, progress=progress, jobs=args.jobs)
    progress.close()
    if progress.mode != "jsonl":
        summary = describe(result.card)
        low, high = summary["ci95"]
        print(f"cross-validation: AUC {summary['auc']:.3f} (95% CI {low:.3f}-{high:.3f}) over {summary['folds']} "
              f"folds (best epochs {summary['best_epochs']}) -> {result.folder} (report.html, "
              f"{result.seconds:.1f} s, {result.card['threads']} thread(s))", file=sys.stderr)
    return EXIT_OK


@runs("predict-cnn")
def cmd_predict_cnn(args, progress) -> int:
    from ..cnn.workflow import predict_cnn

    check_jobs(args)
    predictions = predict_cnn(args.model, args.manifest, args.out, device=args.device, overwrite=args.overwrite,
                              jobs=args.jobs)
    return predictions_done(progress, args.out, predictions)
