"""Issue 7: the same 40-case extraction (a) in one process, (b) in 2 local processes, (c) on a Dask
LocalCluster of 2 worker processes — through the CLI, in one run.

The 40 cases are the five sample cases eight times (distinct case ids), MR preset.
Prints the three times and the ratios; targets: (b) and (c) at least 1.7x faster
than (a) on this 2-core machine, and (c) within 10% of (b) (the scheduler costs
little). Exit status 1 when a target is missed or a table differs.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from common import run_extract, timed, write_repeated_manifest

SPEEDUP, OVERHEAD = 1.7, 1.10


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, default=40)
    parser.add_argument("--preset", default="MR")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        manifest = write_repeated_manifest(tmp / "manifest.csv", args.cases)
        serial, _ = timed(run_extract, manifest, tmp / "a.csv", args.preset, "--jobs", "1")
        local, _ = timed(run_extract, manifest, tmp / "b.csv", args.preset, "--jobs", "2")
        dask, _ = timed(run_extract, manifest, tmp / "c.csv", args.preset, "--jobs", "2", "--scheduler", "local")
        same = (tmp / "a.csv").read_bytes() == (tmp / "b.csv").read_bytes() == (tmp / "c.csv").read_bytes()
    print(f"{args.cases} cases, preset {args.preset}")
    print(f"(a) --jobs 1: {serial:.1f} s   (b) --jobs 2: {local:.1f} s   (c) Dask LocalCluster, 2 workers: "
          f"{dask:.1f} s   (identical tables: {same})")
    print(f"a/b = {serial / local:.2f}   a/c = {serial / dask:.2f}   c/b = {dask / local:.2f}   "
          f"(targets: a/b and a/c >= {SPEEDUP}, c/b <= {OVERHEAD})")
    ok = serial / local >= SPEEDUP and serial / dask >= SPEEDUP and dask / local <= OVERHEAD and same
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
