"""`radiomics-workshop --help` must answer in under a second.

Baseline: a bare `python -c pass` in the same run; prints both, the ratio,
and fails when --help takes a second or more.
"""

from __future__ import annotations

import subprocess
import sys

from common import median, timed

LIMIT_SECONDS = 1.0


def main() -> int:
    bare = [timed(subprocess.run, [sys.executable, "-c", "pass"], check=True)[0] for _ in range(5)]
    helps = [timed(subprocess.run, [sys.executable, "-m", "RadiomicsWorkshopLib", "--help"], check=True,
                   capture_output=True)[0] for _ in range(5)]
    print(f"python -c pass: {median(bare) * 1000:.0f} ms; radiomics-workshop --help: {median(helps) * 1000:.0f} ms "
          f"(ratio {median(helps) / median(bare):.2f}; limit {LIMIT_SECONDS:.0f} s)")
    return 0 if median(helps) < LIMIT_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
