"""Ending a core run: the whole process tree, on every OS.

PythonSlicer is a launcher: killing it alone leaves Slicer's Python (the core) running, and the core
may have worker processes of its own (``--jobs``, Dask). psutil (Resources/requirements.txt, installed
before any run starts) lists the descendants on Windows, macOS and Linux alike; a ``pkill -P`` fallback
would reach the children only, never the grandchildren.
"""

from __future__ import annotations

import subprocess


def killProcessTree(process: subprocess.Popen, timeout: float = 5.0) -> None:
    """Kill ``process`` and all its descendants, and wait until they are gone."""
    import psutil

    try:
        parent = psutil.Process(process.pid)
        family = parent.children(recursive=True) + [parent]
    except psutil.NoSuchProcess:
        family = []
    for member in family:
        try:
            member.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(family, timeout=timeout)
    if process.poll() is None:
        process.kill()
    process.wait(timeout=timeout)
