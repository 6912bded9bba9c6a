"""The robustness step over a cohort: every case extracted once per perturbation (``robustness.
perturbations``), each (case, perturbation) a committed unit of the batch engine like any case -- in
parallel processes or on Dask, resumable, a failure kept apart -- then one table with a ``perturbation``
column and the source case's id."""

from __future__ import annotations

import dataclasses
import functools
import time
from pathlib import Path
from typing import Any

from ..features.extraction import extract_case_result, make_extractor
from ..features.presets import ExtractionParams
from ..io import images, tables
from ..io.columns import IDENTIFIERS, REPETITION
from ..io.manifest import Case
from ..io.progress import Progress
from ..robustness.perturbations import LETTERS as LETTER_NAMES, Perturbation, perturb
from .extract import EXTRACTION_OUTPUT
from .runner import CohortSummary, case_key, commit_case, run_step

UNIT_SEPARATOR = "~"  # a unit's id: <case_id>~<perturbation name>


def units(cases: list[Case], perturbations: list[Perturbation]) -> list[Case]:
    """One case per (case, perturbation), keyed by both; the patient stays the case's (or its id)."""
    return [dataclasses.replace(case, case_id=f"{case.case_id}{UNIT_SEPARATOR}{p.name}",
                                patient_id=case.patient_id or case.case_id,
                                extra={**case.extra, "source_case": case.case_id, "perturbation": p.name})
            for case in cases for p in perturbations]


def _extract(unit: Case, params: ExtractionParams, perturbation: Perturbation, roi_crop: bool) -> dict[str, Any]:
    source = unit.extra["source_case"]
    image, series = images.read_case_image(unit.image, case_id=source, series=unit.series, mask=unit.mask)
    drawn = images.dicom_mask_modality(unit.mask) is not None  # RTSTRUCT / SEG: the chosen ROIs as labels 1..
    mask, names = images.read_label_map(unit.mask, case_id=source, image=image, series=series,
                                        rois=unit.rois if drawn else None)
    image, mask = perturb(image, mask, perturbation)
    result = extract_case_result(image, mask, params, rois=None if drawn else unit.rois, case_id=source,
                                 patient_id=unit.patient_id, roi_crop=roi_crop, extractor=make_extractor(params))
    rows = [{"case_id": source, REPETITION: perturbation.name,
             **{k: v for k, v in row.items() if k != "case_id"}} for row in result.rows]
    if drawn:  # label k is the k-th ROI drawn
        for row in rows:
            row["roi"] = names[int(row["roi"]) - 1]
    return {"rows": rows, "info": {**result.info, "perturbation": perturbation.to_dict()}}


def run_unit(unit: Case, part_file: Path, keyed=None, *, params: ExtractionParams,
             perturbations: dict[str, Perturbation], roi_crop: bool) -> dict[str, Any]:
    t0 = time.perf_counter()
    perturbation = perturbations[unit.extra["perturbation"]]
    key, hashes = keyed or case_key(unit, params.digest(), perturbation.to_dict())
    return commit_case(unit, part_file, key, hashes, lambda: _extract(unit, params, perturbation, roi_crop), t0)


def run_perturbed(cases: list[Case], params: ExtractionParams, perturbations: list[Perturbation], out: str | Path, *,
                  jobs: int = 1, overwrite: bool = False, retry_failed: bool = False, roi_crop: bool = True,
                  progress: Progress | None = None, scheduler: str | None = None,
                  timeout: float | None = None) -> CohortSummary:
    """Extract every case under every perturbation into ``out`` (one row per case, ROI and perturbation)."""
    out = tables.check_table_path(out)
    make_extractor(params)
    by_name = {p.name: p for p in perturbations}

    def key_fn(unit: Case):
        return case_key(unit, params.digest(), by_name[unit.extra["perturbation"]].to_dict())

    settings = {"params": params.to_dict(), "perturbations": [p.to_dict() for p in perturbations]}
    return run_step(
        units(cases, perturbations), out, step="robustness", digest=params.digest(), settings=settings,
        key_fn=key_fn, task=functools.partial(run_unit, params=params, perturbations=by_name, roi_crop=roi_crop),
        output=EXTRACTION_OUTPUT, progress=progress or Progress("none", step="robustness"), overwrite=overwrite,
        retry_failed=retry_failed, jobs=jobs, scheduler=scheduler, timeout=timeout,
        prepare=functools.partial(make_extractor, params),
        provenance={"settings": params.to_dict(), "settings_digest": params.digest(),
                    "perturbations": [p.to_dict() for p in perturbations]})


def _repeat_rows(cases: list[Case], table: Path, column: str) -> "pd.DataFrame":
    """The extracted rows with each row's repetition (``column`` of the manifest) as the rater and the
    patient as the subject's case."""
    import pandas as pd

    from ..io.errors import InputError

    missing = [c.case_id for c in cases if column not in c.extra]
    if missing:
        raise InputError(f"manifest column {column!r} missing for {len(missing)} case(s), e.g. {missing[0]}",
                         hint=f"add a {column} column (reader or session of each row), or perturb instead")
    rows = tables.read_table(table)
    by_case = {c.case_id: c for c in cases}
    rows[REPETITION] = [by_case[c].extra[column] for c in rows["case_id"]]
    rows["case_id"] = [by_case[c].patient_id or c for c in rows["case_id"]]
    return rows


def run_robustness(cases: list[Case], params: ExtractionParams, out_dir: str | Path, *, letters: str = "RNTC",
                   count: int = 30, seed: int = 0, repeats: str | None = None, threshold: float = 0.75,
                   icc: str = "icc1", jobs: int = 1, overwrite: bool = False, retry_failed: bool = False,
                   progress: Progress | None = None, scheduler: str | None = None,
                   timeout: float | None = None) -> tuple[CohortSummary, list[Path]]:
    """``radiomics-workshop robustness``: the features under perturbations (or across the manifest's
    repetitions), their agreement, the figure and the report section, all in ``out_dir``."""
    import pandas as pd

    from ..io.errors import OutputExistsError
    from ..robustness.agreement import agreement_table
    from ..robustness.perturbations import perturbation_set
    from ..robustness.report import family_summary, icc_figure, report_section
    from .extract import run_cohort

    out_dir = Path(out_dir)
    results = [out_dir / n for n in ("icc.csv", "icc_by_family.csv", "icc.png", "robustness.md")]
    existing = [p for p in results if p.exists()]
    if existing and not overwrite:
        raise OutputExistsError("output exists", file=existing[0], hint="pass --overwrite or choose another --out")
    out_dir.mkdir(parents=True, exist_ok=True)
    table = out_dir / "features.csv"
    if repeats:
        summary = run_cohort(cases, params, table, jobs=jobs, overwrite=overwrite, retry_failed=retry_failed,
                             progress=progress, scheduler=scheduler, timeout=timeout)
        rows = _repeat_rows(cases, table, repeats)
        what = f"{len(cases)} rows, repeated by the manifest's {repeats!r} column"
    else:
        perturbations = perturbation_set(letters, count, seed)
        summary = run_perturbed(cases, params, perturbations, table, jobs=jobs, overwrite=overwrite,
                                retry_failed=retry_failed, progress=progress, scheduler=scheduler, timeout=timeout)
        rows = tables.read_table(table)
        what = (f"{len(cases)} case(s), each under {count} perturbations {letters} (seed {seed}; "
                f"{', '.join(LETTER_NAMES[c] for c in letters)})")
    features = [c for c in rows.columns if c not in IDENTIFIERS and not c.startswith("diagnostics_")
                and pd.api.types.is_numeric_dtype(rows[c])]
    agreement = agreement_table(rows, features, rater=REPETITION)
    tables.write_table(agreement, results[0])
    tables.write_table(family_summary(agreement, threshold, icc), results[1])
    icc_figure(agreement, threshold, results[2], icc)
    results[3].write_text(report_section(agreement, threshold, what, icc) + f"\n![ICC by family]({results[2].name})\n",
                          encoding="utf-8")
    return summary, [table, *results]
