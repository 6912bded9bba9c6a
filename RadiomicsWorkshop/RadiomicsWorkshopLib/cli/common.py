"""What every command shares: the input and run options, the cases of --image/--manifest, the summary of a
batch run, and the one handling of errors and exit codes (``runs``)."""

from __future__ import annotations

import argparse
import functools
import os
import sys
from pathlib import Path
from typing import Callable

EXIT_OK, EXIT_SOME_FAILED, EXIT_ERROR = 0, 1, 2
PROGRESS_CHOICES = ["auto", "bar", "jsonl", "none"]


def default_cores() -> str:
    """The default of every ``--jobs``: $RADIOMICS_WORKSHOP_JOBS, else the cores this process may use. A text,
    which argparse turns into a number with ``cores`` (so that a bad variable is an error like a bad option)."""
    from ..io.threads import JOBS_VARIABLE, cores_available

    return os.environ.get(JOBS_VARIABLE, "").strip() or str(cores_available())


def cores(text: str) -> int:
    """The type of ``--jobs``: a whole number of cores, at least 1."""
    from ..io.threads import JOBS_VARIABLE, jobs_from_text

    jobs = jobs_from_text(text)
    if jobs is None:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number of cores (a whole number, at least 1; without "
                                         f"--jobs the default comes from ${JOBS_VARIABLE} when it is set)")
    return jobs


def add_progress_option(group, help: str = "progress display; jsonl: one JSON event per line on stdout (for Slicer)",
                        choices: list[str] = PROGRESS_CHOICES) -> None:
    group.add_argument("--progress", choices=choices, default="auto", help=help)


def add_case_inputs(p, *, mask_help: str = "label map, Slicer .seg.nrrd, DICOM RTSTRUCT or SEG",
                    rois: bool = True) -> None:
    """--image/--mask (one case) or --manifest (a cohort): the inputs of every batch step."""
    group = p.add_argument_group("input (one case or a manifest)")
    group.add_argument("--image", help="image file (NRRD, NIfTI, MHA, ...) or DICOM series folder")
    group.add_argument("--mask", help=mask_help)
    if rois:
        group.add_argument("--roi", action="append", metavar="LABEL_OR_SEGMENT",
                           help="label value or segment name; repeat for several (default: all labels/segments)")
    group.add_argument("--series", metavar="UID", help="for --image a DICOM folder of several series: the "
                                                       "SeriesInstanceUID (default: the series the mask references)")
    group.add_argument("--case-id", help="case id for --image (default: image file name)")
    if rois:
        group.add_argument("--patient-id", help="patient id for --image/--mask (kept in the table)")
    group.add_argument("--manifest", help="cohort manifest CSV (columns case_id,image,mask[,roi,patient_id,label,"
                                          "site,series]; paths relative to it)")
    group.add_argument("--resample-mask", action="store_true",
                       help="resample a mask whose grid differs from the image's onto it (nearest neighbour)")


def add_run_options(p, *, out_help: str | None = "output table, .csv or .parquet", jobs: bool = True,
                    default_jobs: int | None = None, jobs_help: str | None = None) -> None:
    """Output, parallelism, resume and progress options shared by the batch steps."""
    group = p.add_argument_group("run")
    if out_help:
        group.add_argument("--out", required=True, help=out_help)
    if jobs:
        group.add_argument("--jobs", type=cores, default=str(default_jobs) if default_jobs else default_cores(),
                           help=jobs_help or "cores to use: cases run in parallel processes (ITK filters get the "
                                             "cores left over)")
        group.add_argument("--scheduler", metavar="ADDRESS",
                           help="run the cases on Dask: a scheduler address (tcp://host:8786; the workers must "
                                "see the files) or 'local' (a LocalCluster of --jobs worker processes)")
        group.add_argument("--timeout", type=float, metavar="SECONDS",
                           help="give up a case that takes longer (recorded as timed out; the others go on)")
    group.add_argument("--overwrite", action="store_true", help="replace existing outputs and start again")
    group.add_argument("--retry-failed", action="store_true", help="recompute cases that failed in an earlier run")
    add_progress_option(group)


def add_threads_option(group) -> None:
    """``--jobs`` of the commands that train or run a network in one process: the cores its libraries may use."""
    group.add_argument("--jobs", type=cores, default=default_cores(),
                       help="cores that torch, ITK and numpy may use in this process")


def check_jobs(args, *names: str) -> None:
    """Counts that must be at least 1 (``--jobs``, ``--batch-size``)."""
    from ..io.errors import SettingsError

    for name in names or ("jobs",):
        if getattr(args, name) < 1:
            raise SettingsError(f"--{name.replace('_', '-')} must be at least 1")


def cases_from_args(args, *, mask_required: bool = False):
    """The cases of --manifest, or the one case of --image/--mask (``mask_required``: --image needs --mask)."""
    from ..io.errors import SettingsError
    from ..io.manifest import Case, read_manifest

    if bool(args.manifest) == bool(args.image):
        raise SettingsError("give either --manifest, or --image (with --mask)",
                            hint=f"radiomics-workshop {args.command} --image IMG --mask MASK ...")
    if args.manifest:
        if getattr(args, "roi", None):
            raise SettingsError("--roi applies to --image/--mask; for a manifest use its roi column")
        return read_manifest(args.manifest)
    if mask_required and not args.mask:
        raise SettingsError("--image and --mask go together")
    image = Path(args.image)
    return [Case(case_id=args.case_id or image.name.split(".")[0], image=image,
                 mask=Path(args.mask) if args.mask else None, rois=getattr(args, "roi", None),
                 patient_id=getattr(args, "patient_id", None), series=getattr(args, "series", None))]


def batch_done(progress, summary, n_cases: int, what: str) -> int:
    """The summary of a batch run on stderr (not with --progress jsonl); the exit status it earns."""
    if progress.mode != "jsonl":
        rate = f", {summary.cases_per_minute:g} cases/min" if summary.cases_per_minute else ""
        print(f"{summary.rows} {what} from {n_cases - len(summary.failed)} case(s) -> {summary.table} "
              f"({summary.done} computed, {summary.skipped} already done, {len(summary.failed)} failed, "
              f"{summary.seconds:.1f} s{rate})", file=sys.stderr)
        for failure in summary.failed:
            print(f"  FAILED {failure['case_id']} ({failure.get('file')}): {failure['message']}", file=sys.stderr)
        if summary.failed:
            from ..io.tables import failures_path

            print(f"  failures listed in {failures_path(summary.table)}", file=sys.stderr)
    return EXIT_OK if summary.ok else EXIT_SOME_FAILED


def predictions_done(progress, out, predictions) -> int:
    progress.result(out, rows=len(predictions))
    if progress.mode != "jsonl":
        counts = predictions["predicted"].value_counts().to_dict()
        print(f"{len(predictions)} prediction(s) {counts} -> {out}", file=sys.stderr)
    return EXIT_OK


def fail(progress, exc) -> int:
    message = str(exc)
    if progress is not None and progress.mode == "jsonl":
        progress.error(message, **({"file": exc.file, "case_id": exc.case_id, "hint": exc.hint}
                                   if hasattr(exc, "hint") else {}))
    else:
        print(f"radiomics-workshop: error: {message}", file=sys.stderr)
    return EXIT_ERROR


def runs(step: str | None = None) -> Callable:
    """A command's one wrapper: ``command(args, progress)`` gets the Progress of ``--progress`` (for ``step``;
    None for commands without progress); a WorkshopError ends it with the error reported (a JSON ``error``
    event with ``--progress jsonl``, else on stderr) and exit status 2."""
    def decorate(command: Callable) -> Callable:
        @functools.wraps(command)
        def run(args) -> int:
            from ..io.errors import WorkshopError

            progress = None
            if step is not None:
                from ..io.progress import Progress

                progress = Progress(args.progress, step=step)
            try:
                return command(args, progress)
            except WorkshopError as exc:
                if progress is not None:
                    progress.close()
                return fail(progress, exc)
        return run
    return decorate
