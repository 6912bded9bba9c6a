"""Deep features for one case or a cohort: the same runner, resume and failure
records as radiomics extraction, and a table with the same keys (case_id, roi)."""

from __future__ import annotations

import functools
import hashlib
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from . import images, tables, validation
from .cohort import CohortSummary, assemble_rows, case_key, commit_case, prepare_parts, process_cases
from .errors import WorkshopError
from .manifest import Case
from .progress import Progress
from .provenance import file_digest, library_versions


@dataclass
class DeepSettings:
    model: str = "resnet18"
    weights: str = "pretrained"
    layer: str | None = None
    modality: str = "MR"
    margin_mm: float = 10.0
    context_slices: int = 0
    patch_mm: float | None = None
    patch_spacing_mm: float = 1.0
    batch_size: int = 32
    device: str = "cpu"
    seed: int = 0
    precision: str = "float32"

    def digest(self) -> str:
        payload = {k: v for k, v in asdict(self).items() if k not in ("batch_size", "device")}
        if payload["weights"] not in ("pretrained", "random"):
            payload["weights"] = file_digest(payload["weights"])  # the numbers depend on the file's content
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


_EXTRACTORS: dict[str, Any] = {}


def extractor_for(settings: DeepSettings):
    """One network per settings per process (loading weights is the slow part)."""
    from .deep import DeepFeatureExtractor

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
            image = images.read_image(case.image, case_id=case.case_id)
            rois = images.read_rois(case.mask, case.rois, case_id=case.case_id)
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


def run_deep_features(cases: list[Case], settings: DeepSettings, out: str | Path, *, overwrite: bool = False,
                      retry_failed: bool = False, resample_mask: bool = False,
                      progress: Progress | None = None) -> CohortSummary:
    """Deep features of every case into ``out`` (+ provenance, failures). Cases run one after the other
    in this process: the network is loaded once and torch uses the cores (or the GPU) itself."""
    out = tables.check_table_path(out)
    progress = progress or Progress("none", step="deep-features")
    t0 = time.perf_counter()
    parts = prepare_parts(out, settings.digest(), {"settings": asdict(settings)}, overwrite)
    summary = CohortSummary(table=out)
    extractor_for(settings)  # fail early on missing weights or an unknown model
    process_cases(cases, parts, functools.partial(case_key, settings_digest=settings.digest(), extra=resample_mask),
                  functools.partial(deep_case, settings=settings, resample_mask=resample_mask),
                  summary, jobs=1, retry_failed=retry_failed, progress=progress)
    per_case = assemble_rows(cases, parts, out, summary)
    tables.write_json({"table": out.name, "step": "deep-features", "settings": asdict(settings),
                       "settings_digest": settings.digest(), "versions": library_versions(),
                       "cases": per_case, "failures": summary.failed,
                       "timing": {"seconds_this_run": round(time.perf_counter() - t0, 3)}},
                      tables.provenance_path(out))
    summary.seconds = time.perf_counter() - t0
    progress.close()
    progress.result(str(out), rows=summary.rows, done=summary.done, skipped=summary.skipped,
                    failed=len(summary.failed), seconds=round(summary.seconds, 3))
    return summary
