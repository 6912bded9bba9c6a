"""The extraction step over a cohort: the batch engine (cohort.run_step) running extract_case_result on
every case, one committed record per case (its rows and provenance)."""

from __future__ import annotations

import dataclasses
import functools
import time
from pathlib import Path
from typing import Any

from ..features.extraction import KEY_COLUMNS, extract_case_result, make_extractor
from ..features.presets import ExtractionParams
from ..io import tables
from ..io.errors import InputError
from ..io.manifest import Case
from ..io.progress import Progress
from .runner import CohortSummary, StepOutput, case_key, commit_case, run_step


def run_case(case: Case, part_file: Path, keyed: tuple[str, dict[str, str]] | None = None, *,
             params: ExtractionParams, resample_mask: bool, roi_crop: bool) -> dict[str, Any]:
    """Extract one case and commit it (or its failure) to ``part_file``; never raises for bad input.

    ``keyed`` is the case key and input hashes when the caller has them; else
    they are computed here, in the worker, so hashing runs in parallel too.
    """
    t0 = time.perf_counter()
    key, hashes = keyed or case_key(case, params.digest(), resample_mask)
    return commit_case(case, part_file, key, hashes, lambda: _extract(case, params, resample_mask, roi_crop), t0)


def _extract(case: Case, params: ExtractionParams, resample_mask: bool, roi_crop: bool) -> dict[str, Any]:
    result = extract_case_result(case.image, case.mask, params, rois=case.rois, case_id=case.case_id,
                                 patient_id=case.patient_id, series=case.series, resample_mask=resample_mask,
                                 roi_crop=roi_crop, extractor=make_extractor(params))
    return {"rows": result.rows, "info": result.info}



def _extraction_entry(case: Case, record: dict[str, Any]) -> dict[str, Any]:
    return {k: record[k] for k in ("image", "mask", "hashes", "seconds", "info")}


EXTRACTION_OUTPUT = StepOutput(
    rows=lambda case, record: record["rows"], entry=_extraction_entry, empty_columns=tuple(KEY_COLUMNS),
    sections={"preprocessing": lambda case, record: record.get("info", {}).get("preprocessing")})


def _ibsi_codes(columns: list[str], params: ExtractionParams) -> dict[str, Any]:
    from ..features.ibsi.reference import ibsi_codes

    return {"ibsi_codes": ibsi_codes(columns, params.settings, params.aggregations)}


def run_cohort(cases: list[Case], params: ExtractionParams, out: str | Path, *, jobs: int = 1,
               overwrite: bool = False, retry_failed: bool = False, resample_mask: bool = False,
               roi_crop: bool = True, progress: Progress | None = None,
               scheduler: str | None = None, timeout: float | None = None) -> CohortSummary:
    """Extract features for every case into ``out`` (+ provenance, failures); see module doc."""
    out = tables.check_table_path(out)
    make_extractor(params)  # imported and validated once, inherited by forked workers
    return run_step(
        cases, out, step="extract", digest=params.digest(), settings={"params": params.to_dict()},
        key_fn=functools.partial(case_key, settings_digest=params.digest(), extra=resample_mask),
        task=functools.partial(run_case, params=params, resample_mask=resample_mask, roi_crop=roi_crop),
        output=dataclasses.replace(EXTRACTION_OUTPUT, describe_columns=functools.partial(_ibsi_codes, params=params)),
        progress=progress or Progress("none", step="extract"), overwrite=overwrite,
        retry_failed=retry_failed, jobs=jobs, scheduler=scheduler, timeout=timeout,
        prepare=functools.partial(make_extractor, params),
        provenance={"settings": params.to_dict(), "settings_digest": params.digest(),
                    "mask_resampling_requested": resample_mask})


def write_dicom_reports(cases: list[Case], table: str | Path, params: ExtractionParams, out_dir: str | Path, *,
                        overwrite: bool = False) -> list[str]:
    """A DICOM SEG and a TID 1500 SR per case of the feature table (``features.dicom_report``); the cases
    whose image is not a DICOM series are skipped. Existing reports are kept unless ``overwrite``."""
    from .. import __version__
    from ..features.dicom_report import write_case_report
    from ..features.ibsi.reference import ibsi_codes

    frame = tables.read_table(table)
    codes = ibsi_codes(list(frame.columns), params.settings, params.aggregations)
    written = []
    for case in cases:
        rows = frame[frame["case_id"].astype(str) == case.case_id]
        if rows.empty or not Path(case.image).is_dir() or case.mask is None:
            continue
        target = Path(out_dir) / f"{case.case_id}.sr.dcm"
        if target.exists() and not overwrite:
            raise InputError(f"{target} exists", case_id=case.case_id, file=target,
                             hint="pass --overwrite to replace it, or choose another --dicom-report folder")
        write_case_report(case.case_id, case.image, case.mask, rows, out_dir, codes, series_uid=case.series,
                          version=__version__)
        written.append(case.case_id)
    return written

