"""(a) Our per-case overhead over calling PyRadiomics directly (default features), with PyRadiomics as the
engine (``engine: pyradiomics``): what our cohort runner adds around it. (Our own engine against
PyRadiomics: bench_engines.py.)

Baseline: ``RadiomicsFeatureExtractor().execute(image_path, mask_path)`` for
each sample case. Ours: the cohort runner with --jobs 1 on the same cases
(reads, input checks, hashing for resume, per-case commit, table, provenance).
Both on the same core budget: `--jobs 1` gives ITK one thread, so the direct
calls get one too. Runs alternate, repeated; the ratio of the medians must be
at most 1.1.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
from pathlib import Path

from common import CASES, case_paths, median, timed

LIMIT = 1.1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--cases", nargs="+", default=CASES)
    args = parser.parse_args()

    import radiomics
    from radiomics import featureextractor
    from RadiomicsWorkshopLib.batch.extract import run_cohort
    from RadiomicsWorkshopLib.features.presets import load_params
    from RadiomicsWorkshopLib.io.manifest import Case

    radiomics.setVerbosity(logging.ERROR)
    cases = [Case(case_id=name, image=case_paths(name)[0], mask=case_paths(name)[1]) for name in args.cases]
    # PyRadiomics' defaults (original image, all feature classes), computed by PyRadiomics
    params = load_params(params={"workshop": {"engine": "pyradiomics"}})

    from RadiomicsWorkshopLib.io.threads import thread_budget

    def direct():
        extractor = featureextractor.RadiomicsFeatureExtractor()
        with thread_budget(1):  # the core budget of --jobs 1
            for case in cases:
                extractor.execute(str(case.image), str(case.mask))

    def ours():
        with tempfile.TemporaryDirectory() as tmp:
            summary = run_cohort(cases, params, Path(tmp) / "features.csv", jobs=1)
            assert summary.ok and summary.rows == len(cases)

    direct()  # warm-up: imports, file cache
    ours()
    base, mine = [], []
    for _ in range(args.repeat):
        base.append(timed(direct)[0])
        mine.append(timed(ours)[0])
    ratio = median(mine) / median(base)
    n = len(cases)
    print(f"cases: {', '.join(args.cases)}; repeats: {args.repeat}")
    print(f"PyRadiomics direct : {median(base) / n:.3f} s/case (median of {args.repeat})")
    print(f"RadiomicsWorkshop  : {median(mine) / n:.3f} s/case")
    print(f"overhead ratio ours/direct = {ratio:.3f}  (limit {LIMIT})")
    return 0 if ratio <= LIMIT else 1


if __name__ == "__main__":
    sys.exit(main())
