"""(c) A 20-case cohort through the CLI with --jobs 2 against --jobs 1.

The 20 cases are the five sample cases four times (distinct case ids), run
with the MR preset (original + LoG + wavelet), exactly as a user runs it.
The speed-up jobs1/jobs2 must be at least 1.7 (the machine has 2 cores).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from common import CASES, case_paths, timed

LIMIT = 1.7


def run(manifest: Path, out: Path, jobs: int, preset: str) -> None:
    subprocess.run([sys.executable, "-m", "RadiomicsWorkshopLib", "extract", "--manifest", str(manifest),
                    "--preset", preset, "--out", str(out), "--jobs", str(jobs), "--progress", "none"],
                   check=True, capture_output=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, default=20)
    parser.add_argument("--preset", default="MR")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        lines = ["case_id,image,mask"]
        for i in range(args.cases):
            image, mask = case_paths(CASES[i % len(CASES)])
            lines.append(f"case{i:02d},{image},{mask}")
        (tmp / "manifest.csv").write_text("\n".join(lines) + "\n")
        serial, _ = timed(run, tmp / "manifest.csv", tmp / "jobs1.csv", 1, args.preset)
        parallel, _ = timed(run, tmp / "manifest.csv", tmp / "jobs2.csv", 2, args.preset)
        same = (tmp / "jobs1.csv").read_bytes() == (tmp / "jobs2.csv").read_bytes()
    ratio = serial / parallel
    print(f"{args.cases} cases, preset {args.preset}")
    print(f"--jobs 1: {serial:.1f} s   --jobs 2: {parallel:.1f} s   (identical tables: {same})")
    print(f"speed-up jobs1/jobs2 = {ratio:.2f}  (limit >= {LIMIT})")
    return 0 if ratio >= LIMIT and same else 1


if __name__ == "__main__":
    sys.exit(main())
