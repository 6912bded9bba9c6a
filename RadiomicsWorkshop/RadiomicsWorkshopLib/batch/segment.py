"""Auto-segmenting a cohort on the batch runner: a manifest in, label maps and a manifest of them out.

The same runner as extraction (``cohort.run_step``): resume, failure records,
``--jobs``, ``--scheduler``, ``--timeout``. Writes ``<out_dir>/<case_id>_seg.nrrd``
(the input image's grid, uint8) and ``<out_dir>/manifest.csv`` whose ``mask``
column is the prediction, ready for ``extract``; an input mask, when the
manifest has one, is kept as ``reference_mask`` (``evaluate-seg`` compares
with it).
"""

from __future__ import annotations

import functools
import hashlib
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..io.errors import SettingsError
from ..io.manifest import Case
from ..io.progress import Progress
from ..io.threads import default_jobs
from ..io.provenance import file_digest
from .runner import CohortSummary, StepOutput, case_key, commit_case, run_step


@dataclass(frozen=True)
class SegmentOptions:
    bundle: str
    tta: bool = False
    postprocess: bool = True
    device: str = "cpu"
    dicom_seg: bool = False  # also a DICOM SEG of each label map where the image is a DICOM series

    def digest(self) -> str:
        """What the label maps depend on: the bundle's files and the options (not the device)."""
        payload = {"bundle": file_digest(self.bundle), "tta": self.tta, "postprocess": self.postprocess}
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


_BUNDLES: dict[SegmentOptions, Any] = {}


def bundle_for(options: SegmentOptions):
    """The bundle, loaded once per process."""
    from ..segmentation.autoseg import load_bundle

    if options not in _BUNDLES:
        _BUNDLES[options] = load_bundle(options.bundle, device=options.device)
    return _BUNDLES[options]


def output_path(out_dir: Path, case: Case) -> Path:
    return Path(out_dir) / f"{case.case_id}_seg.nrrd"


def segment_case(case: Case, part_file: Path, keyed=None, *, options: SegmentOptions, out_dir: Path) -> dict:
    """Segment one case and commit the label map's path (or the failure); never raises for bad input."""
    from ..io.images import read_case_image, write_image
    from ..segmentation.autoseg import segment

    t0 = time.perf_counter()
    key, hashes = keyed or case_key(case, options.digest())

    def work() -> dict[str, Any]:
        warnings: list[str] = []
        image, series = read_case_image(case.image, case_id=case.case_id, series=case.series)
        bundle = bundle_for(options)
        labels = segment(bundle, image, tta=options.tta, postprocess=options.postprocess, warn=warnings.append)
        out = output_path(out_dir, case)
        write_image(labels, out)
        outputs = {"mask": str(out.resolve())}
        if options.dicom_seg:
            if series is None:
                warnings.append("the image is not a DICOM series: no DICOM SEG written")
            else:
                outputs["dicom_seg"] = str(write_dicom_seg(labels, series, bundle.labels,
                                                           out.with_name(f"{case.case_id}_seg.dcm")).resolve())
        return {"outputs": outputs, "warnings": warnings}

    return commit_case(case, part_file, key, hashes, work, t0)


def write_dicom_seg(labels, series, names: dict[str, str], path: Path) -> Path:
    """A label map as a DICOM SEG referencing its source series: one segment per label present, named as the
    bundle's metadata names it."""
    import numpy as np
    import SimpleITK as sitk

    from .. import __version__
    from ..io.dicom.seg import SegmentInfo, write_seg

    present = [int(v) for v in np.unique(sitk.GetArrayViewFromImage(labels)) if v != 0]
    segments = [SegmentInfo(label=v, name=names.get(str(v), f"label {v}")) for v in present]
    if not segments:
        raise SettingsError("the label map is empty: a DICOM SEG needs at least one segment", file=path,
                            hint="check the image and the model, or leave out --dicom-seg")
    return write_seg(labels, series, segments, path, algorithm="RadiomicsWorkshop segment", version=__version__)


def segment_image_file(image_file: str | Path, out: str | Path, options: SegmentOptions, *,
                       reference: str | Path | None = None, metrics_out: str | Path | None = None,
                       overwrite: bool = False, progress: Progress | None = None) -> Path:
    """Segment one image file into ``out`` (the image's grid, uint8); with ``reference``, also write the
    comparison (Dice, IoU, HD95, surface Dice per label) to ``metrics_out``. Raises for bad input."""
    from ..io.errors import OutputExistsError
    from ..io.images import read_image, write_image
    from ..segmentation.autoseg import segment

    out = Path(out)
    if out.exists() and not overwrite:
        raise OutputExistsError("output exists", file=out, hint="pass --overwrite or choose another output")
    bundle = bundle_for(options)
    case_id = Path(image_file).name.split(".")[0]
    progress = progress or Progress("none", step="segment")
    progress.start(1)
    image = read_image(image_file, case_id=case_id)
    labels = segment(bundle, image, tta=options.tta, postprocess=options.postprocess,
                     warn=lambda message: progress.log(f"{case_id}: {message}", "warning"))
    write_image(labels, out)
    progress.advance(case_id)
    if reference:
        from ..io.tables import write_table
        from ..segmentation.metrics import evaluate_files

        write_table(evaluate_files([(case_id, str(out), str(reference))]), metrics_out)
    return out


def _manifest_rows(case: Case, record: dict[str, Any]) -> list[dict[str, Any]]:
    row = {"case_id": case.case_id, "image": str(Path(case.image).resolve()), "mask": record["outputs"]["mask"]}
    for column in ("patient_id", "label", "site"):
        if getattr(case, column):
            row[column] = getattr(case, column)
    if case.mask is not None:
        row["reference_mask"] = str(Path(case.mask).resolve())
    row.update(case.extra)
    return [row]


SEGMENT_OUTPUT = StepOutput(rows=_manifest_rows,
                            entry=lambda case, record: {k: record.get(k) for k in ("outputs", "hashes", "seconds",
                                                                                   "warnings")},
                            empty_columns=("case_id", "image", "mask"), numeric=False)


def run_segmentation(cases: list[Case], options: SegmentOptions, out_dir: str | Path, *, overwrite: bool = False,
                     retry_failed: bool = False, progress: Progress | None = None, jobs: int = 1,
                     scheduler: str | None = None, timeout: float | None = None) -> CohortSummary:
    """Segment every case into ``out_dir`` (+ manifest.csv, its provenance and failures)."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise SettingsError("--out-dir is a file", file=out_dir, hint="give a folder")
    bundle_for(options)  # fail early on a missing or broken bundle
    return run_step(
        cases, out_dir / "manifest.csv", step="segment", digest=options.digest(), settings={"options": asdict(options)},
        key_fn=functools.partial(case_key, settings_digest=options.digest()),
        task=functools.partial(segment_case, options=options, out_dir=out_dir), output=SEGMENT_OUTPUT,
        provenance={"options": asdict(options), "settings_digest": options.digest()},
        progress=progress or Progress("none", step="segment"), overwrite=overwrite, retry_failed=retry_failed,
        jobs=jobs, scheduler=scheduler, timeout=timeout, prepare=functools.partial(bundle_for, options),
        threads=default_jobs())  # one process (jobs 1): torch uses every core
