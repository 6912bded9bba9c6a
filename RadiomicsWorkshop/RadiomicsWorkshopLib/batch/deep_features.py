"""Deep features for one case or a cohort: the same runner, resume and failure
records as radiomics extraction, and a table with the same keys (case_id, roi)."""

from __future__ import annotations

import functools
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ..deep.settings import DeepSettings
from ..io import images, tables, validation
from ..io.errors import WorkshopError
from ..io.manifest import Case
from ..io.progress import Progress
from ..io.threads import default_jobs
from .runner import CohortSummary, StepOutput, case_key, commit_case, run_step

_EXTRACTORS: dict[str, Any] = {}


def extractor_for(settings: DeepSettings):
    """One network per settings per process (loading weights is the slow part)."""
    from ..deep.embeddings import DeepFeatureExtractor

    key = settings.digest() + settings.device
    if key not in _EXTRACTORS:
        options = asdict(settings)
        model, weights = options.pop("model"), options.pop("weights")
        _EXTRACTORS[key] = DeepFeatureExtractor(model, weights, **options)
    return _EXTRACTORS[key]


def deep_case(case: Case, part_file: Path, keyed=None, *, settings: DeepSettings,
              resample_mask: bool = False) -> dict[str, Any]:
    t0 = time.perf_counter()
    key, hashes = keyed or case_key(case, settings.digest(), resample_mask)

    def work() -> dict[str, Any]:
        try:
            image, series = images.read_case_image(case.image, case_id=case.case_id, series=case.series,
                                                   mask=case.mask)
            rois = images.read_rois(case.mask, case.rois, case_id=case.case_id, image=image, series=series)
            extractor = extractor_for(settings)
            rows, aligned = [], {}
            for roi in rois:
                if id(roi.mask) not in aligned:
                    aligned[id(roi.mask)], _ = validation.align_mask(
                        image, roi.mask, resample_mask=resample_mask, case_id=case.case_id,
                        image_file=str(case.image), mask_file=str(case.mask))
                row = {"case_id": case.case_id, "roi": roi.name}
                if case.patient_id is not None:
                    row["patient_id"] = case.patient_id
                row.update(extractor.features(image, aligned[id(roi.mask)], roi.label))
                rows.append(row)
        except WorkshopError as exc:
            raise exc.with_context(case_id=case.case_id, file=case.image)
        return {"rows": rows, "info": {"rois": [r["roi"] for r in rows]}}

    return commit_case(case, part_file, key, hashes, work, t0)


DEEP_OUTPUT = StepOutput(rows=lambda case, record: record["rows"],
                         entry=lambda case, record: {k: record[k] for k in ("image", "mask", "hashes", "seconds",
                                                                             "info")})


def run_deep_features(cases: list[Case], settings: DeepSettings, out: str | Path, *, overwrite: bool = False,
                      retry_failed: bool = False, resample_mask: bool = False, progress: Progress | None = None,
                      jobs: int = 1, scheduler: str | None = None, timeout: float | None = None) -> CohortSummary:
    """Deep features of every case into ``out`` (+ provenance, failures).

    By default (``jobs`` 1) cases run one after the other in this process: the network is loaded once and
    torch uses the cores (or the GPU) itself. With ``jobs`` > 1 or a Dask ``scheduler`` each worker loads
    the network once and torch gets that worker's share of the cores.
    """
    out = tables.check_table_path(out)
    extractor_for(settings)  # fail early on missing weights or an unknown model
    return run_step(
        cases, out, step="deep-features", digest=settings.digest(), settings={"settings": asdict(settings)},
        key_fn=functools.partial(case_key, settings_digest=settings.digest(), extra=resample_mask),
        task=functools.partial(deep_case, settings=settings, resample_mask=resample_mask), output=DEEP_OUTPUT,
        provenance={"settings": asdict(settings), "settings_digest": settings.digest()},
        progress=progress or Progress("none", step="deep-features"), overwrite=overwrite,
        retry_failed=retry_failed, jobs=jobs, scheduler=scheduler, timeout=timeout,
        prepare=functools.partial(extractor_for, settings), threads=default_jobs())  # jobs 1: torch on every core
