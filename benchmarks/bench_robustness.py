"""What robustness analysis costs: ``radiomics-workshop robustness`` against a plain ``extract`` of the same
cases, and its growth with the number of perturbations, as ratios measured in one run (one process each).

Three runs on the same cases and preset (default: three sarcoma CTs, preset MR, one job): extract;
robustness with K perturbations; robustness with 3K. Prints each time (information), the time per
perturbed case against the time per plain case, and the ratio of the two robustness runs against the
ratio of their perturbation counts (3: linear). Exits 1 if growth is worse than 1.3x linear.

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


def _run(*args: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "RadiomicsWorkshopLib", *args, "--progress", "none"], check=True,
                   capture_output=True, cwd=REPO / "RadiomicsWorkshop")
    return time.perf_counter() - start


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
        plain = _run("extract", "--manifest", str(manifest), "--preset", args.preset, "--out", f"{folder}/plain.csv")
        few = _run("robustness", "--manifest", str(manifest), "--preset", args.preset, "--count", str(args.count),
                   "--out", f"{folder}/few")
        many = _run("robustness", "--manifest", str(manifest), "--preset", args.preset,
                    "--count", str(3 * args.count), "--out", f"{folder}/many")
    per_plain = plain / args.cases
    per_perturbed = many / (args.cases * 3 * args.count)
    growth = many / few
    print(f"extract, {args.cases} cases: {plain:.1f} s ({per_plain:.2f} s a case)")
    print(f"robustness, {args.count} perturbations: {few:.1f} s; {3 * args.count}: {many:.1f} s "
          f"({per_perturbed:.2f} s a perturbed case, {per_perturbed / per_plain:.2f}x a plain case)")
    print(f"growth: {growth:.2f}x for 3x the perturbations (linear: 3; start-up and ICCs make it less)")
    return 0 if growth <= 3 * 1.3 else 1


if __name__ == "__main__":
    sys.exit(main())
