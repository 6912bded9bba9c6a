"""(c) A 20-case cohort through the CLI with --jobs 2 against --jobs 1.

The 20 cases are the five sample cases four times (distinct case ids), run
with the MR preset (original + LoG + wavelet), exactly as a user runs it.
The speed-up jobs1/jobs2 must be at least 1.7 (the machine has 2 cores).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from common import run_extract, timed, write_repeated_manifest

LIMIT = 1.7


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, default=20)
    parser.add_argument("--preset", default="MR")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        manifest = write_repeated_manifest(tmp / "manifest.csv", args.cases)
        serial, _ = timed(run_extract, manifest, tmp / "jobs1.csv", args.preset, "--jobs", "1")
        parallel, _ = timed(run_extract, manifest, tmp / "jobs2.csv", args.preset, "--jobs", "2")
        same = (tmp / "jobs1.csv").read_bytes() == (tmp / "jobs2.csv").read_bytes()
    ratio = serial / parallel
    print(f"{args.cases} cases, preset {args.preset}")
    print(f"--jobs 1: {serial:.1f} s   --jobs 2: {parallel:.1f} s   (identical tables: {same})")
    print(f"speed-up jobs1/jobs2 = {ratio:.2f}  (limit >= {LIMIT})")
    return 0 if ratio >= LIMIT and same else 1


if __name__ == "__main__":
    sys.exit(main())
