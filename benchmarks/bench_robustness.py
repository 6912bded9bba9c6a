"""What robustness analysis costs: ``radiomics-workshop robustness`` against a plain ``extract`` of the same
cases, and its growth with the number of perturbations, as ratios measured in one run (one process each).

Three runs on the same cases and preset (default: three sarcoma CTs, preset MR, one job): extract;
robustness with K perturbations; robustness with 3K. Prints each time (information), the time per
perturbed case against the time per plain case, and the ratio of the two robustness runs against the
ratio of their perturbation counts (3: linear). Exits 1 if the extraction grows worse than 1.3x linear.

    python benchmarks/bench_robustness.py [--cases 3] [--count 4] [--preset MR]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import REPO

STS = REPO.parent / "shared" / "data" / "sts" / "nifti"


def _run(*args: str) -> tuple[float, float]:
    """(wall time, the batch's own seconds from its summary line: the cases, without start-up or ICCs)."""
    import re

    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "RadiomicsWorkshopLib", *args, "--progress", "none"], check=True,
                          capture_output=True, text=True, cwd=REPO / "RadiomicsWorkshop")
    wall = time.perf_counter() - start
    found = re.search(r"failed, ([0-9.]+) s", done.stderr)
    return wall, float(found.group(1)) if found else wall


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=3)
    parser.add_argument("--count", type=int, default=4)
    parser.add_argument("--preset", default="MR")
    args = parser.parse_args()
    patients = sorted(p.name for p in STS.iterdir())[: args.cases]
    with tempfile.TemporaryDirectory() as folder:
        manifest = Path(folder) / "cases.csv"
        manifest.write_text("case_id,image,mask\n" + "".join(
            f"{p},{STS / p / 'CT_image.nii.gz'},{STS / p / 'CT_mask.nii.gz'}\n" for p in patients))
        plain, _ = _run("extract", "--manifest", str(manifest), "--preset", args.preset, "--out", f"{folder}/plain.csv")
        (few, few_cases) = _run("robustness", "--manifest", str(manifest), "--preset", args.preset, "--count", str(args.count),
                   "--out", f"{folder}/few")
        (many, many_cases) = _run("robustness", "--manifest", str(manifest), "--preset", args.preset,
                    "--count", str(3 * args.count), "--out", f"{folder}/many")
    per_plain = plain / args.cases
    per_perturbed = many_cases / (args.cases * 3 * args.count)
    growth = many_cases / few_cases
    print(f"extract, {args.cases} cases: {plain:.1f} s ({per_plain:.2f} s a case)")
    print(f"robustness, {args.count} perturbations: {few:.1f} s ({few_cases:.1f} s extracting); "
          f"{3 * args.count}: {many:.1f} s ({many_cases:.1f} s extracting; {per_perturbed:.2f} s a perturbed case, "
          f"{per_perturbed / per_plain:.2f}x a plain case); the rest: start-up and the ICCs")
    print(f"growth of the extraction: {growth:.2f}x for 3x the perturbations (linear: 3)")
    return 0 if growth <= 3 * 1.3 else 1


if __name__ == "__main__":
    sys.exit(main())
