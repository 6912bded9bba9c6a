"""Commands of automatic segmentation: train-seg, segment, evaluate-seg."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .common import EXIT_OK, add_progress_option, add_run_options, add_threads_option, batch_done, check_jobs, runs


def add_parsers(sub) -> None:
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
    add_threads_option(p)
    p.add_argument("--overwrite", action="store_true", help="replace a trained bundle in --out")
    add_progress_option(p, help=None)
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
    p.add_argument("--dicom-seg", action="store_true",
                   help="with --manifest: also write each label map as a DICOM SEG (<case_id>_seg.dcm) referencing "
                        "the image's DICOM series, segments named by the bundle's labels")
    p.add_argument("--no-postprocess", action="store_true", help="keep every component, do not fill holes")
    p.add_argument("--device", choices=["cpu", "cuda", "auto"], default="auto")
    add_run_options(p, out_help=None, default_jobs=1,
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



@runs("train-seg")
def cmd_train_seg(args, progress) -> int:
    from ..io.manifest import read_manifest
    from ..segmentation.autoseg import train_segmentation
    from ..segmentation.settings import SegSettings

    settings = SegSettings(network=args.network, spacing=tuple(args.spacing), patch=tuple(args.patch),
                           intensity=args.intensity, channels=tuple(args.channels), epochs=args.epochs,
                           patience=args.patience,
                           learning_rate=args.learning_rate, elastic=args.elastic, seed=args.seed,
                           labels={"0": "background", "1": args.label_name})
    check_jobs(args)
    result = train_segmentation(read_manifest(args.manifest), args.out, settings, device=args.device,
                                overwrite=args.overwrite, progress=progress, jobs=args.jobs)
    progress.close()
    progress.result(str(result.folder), dice=result.best_dice)
    if progress.mode != "jsonl":
        print(f"best validation Dice {result.best_dice:.3f} after {result.epochs} epoch(s)"
              f"{f' (resumed at epoch {result.resumed_from + 1})' if result.resumed_from else ''} -> {result.folder} "
              f"({result.seconds:.0f} s, {result.threads} thread(s))", file=sys.stderr)
    return EXIT_OK


@runs("segment")
def cmd_segment(args, progress) -> int:
    from ..batch.segment import SegmentOptions, run_segmentation, segment_image_file
    from ..io.errors import SettingsError

    if bool(args.image) == bool(args.manifest) or bool(args.image) != bool(args.out) or \
            bool(args.manifest) != bool(args.out_dir):
        raise SettingsError("give --image with --out, or --manifest with --out-dir")
    if bool(args.reference) != bool(args.metrics_out) or (args.reference and not args.image):
        raise SettingsError("--reference and --metrics-out go together, with --image")
    check_jobs(args)
    options = SegmentOptions(bundle=str(Path(args.model).resolve()), tta=args.tta,
                             postprocess=not args.no_postprocess, device=args.device, dicom_seg=args.dicom_seg)
    if args.manifest:
        from ..io.manifest import read_manifest

        cases = read_manifest(args.manifest, require_mask=False)
        summary = run_segmentation(cases, options, args.out_dir, overwrite=args.overwrite,
                                   retry_failed=args.retry_failed, progress=progress, jobs=args.jobs,
                                   scheduler=args.scheduler, timeout=args.timeout)
        return batch_done(progress, summary, len(cases), "label map(s)")
    segment_image_file(args.image, args.out, options, reference=args.reference, metrics_out=args.metrics_out,
                       overwrite=args.overwrite, progress=progress)
    progress.close()
    progress.result(str(args.out), failed=0)
    return EXIT_OK


@runs()
def cmd_evaluate_seg(args, progress) -> int:
    from ..batch.segment import output_path
    from ..io.errors import OutputExistsError, SettingsError
    from ..io.tables import check_table_path, write_table
    from ..segmentation.metrics import evaluate_files

    out = check_table_path(args.out)
    if out.exists() and not args.overwrite:
        raise OutputExistsError("output exists", file=out, hint="pass --overwrite or choose another --out")
    if args.prediction and args.reference:
        pairs = [(Path(args.prediction).name.split(".")[0], args.prediction, args.reference)]
    elif args.manifest and args.predictions:
        from ..io.manifest import read_manifest

        pairs = [(c.case_id, output_path(Path(args.predictions), c), c.mask) for c in read_manifest(args.manifest)]
    else:
        raise SettingsError("give --prediction and --reference, or --manifest and --predictions")
    table = evaluate_files(pairs, tolerance_mm=args.tolerance_mm)
    write_table(table, out)
    means = table[["dice", "iou", "hausdorff95_mm", "surface_dice"]].mean().round(3).to_dict()
    print(f"{table['case_id'].nunique()} case(s): mean {means} -> {out}", file=sys.stderr)
    return EXIT_OK
