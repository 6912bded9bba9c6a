"""Running the command line as users (and Slicer) do: a separate process, `python -m RadiomicsWorkshopLib`."""

from __future__ import annotations

import subprocess
import sys


def cli(*args, check: bool = True, **kwargs) -> subprocess.CompletedProcess:
    """Run ``radiomics-workshop <args>``; with ``check``, a non-zero exit fails with the output shown."""
    done = subprocess.run([sys.executable, "-m", "RadiomicsWorkshopLib", *map(str, args)], capture_output=True,
                          text=True, **kwargs)
    if check and done.returncode != 0:
        raise AssertionError(f"exit {done.returncode}\n{done.stdout}\n{done.stderr}")
    return done
