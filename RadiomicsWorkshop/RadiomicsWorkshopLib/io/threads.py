"""``--jobs N`` is a budget of N cores: the threads that ITK's filters, BLAS / OpenMP (numpy, scipy,
scikit-learn's HistGradientBoosting) and torch may use in one process, set in one place."""

from __future__ import annotations

import contextlib
import os
import sys
from typing import Iterator

JOBS_VARIABLE = "RADIOMICS_WORKSHOP_JOBS"


def cores_available() -> int:
    """Every core this process may run on (its CPU affinity, which a container or ``taskset`` may narrow)."""
    affinity = getattr(os, "sched_getaffinity", None)
    return len(affinity(0)) if affinity is not None else (os.cpu_count() or 1)


def jobs_from_text(text: str) -> int | None:
    """A number of cores written out (``--jobs``, $RADIOMICS_WORKSHOP_JOBS): a whole number >= 1, else None."""
    text = text.strip()
    return int(text) if text.isdigit() and int(text) >= 1 else None


def default_jobs() -> int:
    """The default of ``--jobs``: $RADIOMICS_WORKSHOP_JOBS when set (a cluster job's share of a node, or a test
    worker's), else every core this process may run on."""
    from .errors import SettingsError

    value = os.environ.get(JOBS_VARIABLE, "")
    if not value.strip():
        return cores_available()
    jobs = jobs_from_text(value)
    if jobs is None:
        raise SettingsError(f"${JOBS_VARIABLE} is '{value}': it must be a whole number of cores, at least 1",
                            hint="unset it (every core is used) or set it to e.g. 4")
    return jobs


def set_thread_budget(threads: int) -> None:
    """For the rest of this process (a worker's initialiser): ITK, BLAS / OpenMP and torch get ``threads``."""
    import SimpleITK as sitk
    from threadpoolctl import threadpool_limits

    threads = max(1, int(threads))
    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(threads)
    threadpool_limits(limits=threads)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)


@contextlib.contextmanager
def thread_budget(threads: int | None, *, torch: bool = False) -> Iterator[None]:
    """``set_thread_budget`` while the block runs in this process, then what was there before (None: no budget,
    every library's own default). ``torch=True`` imports torch first (a block that trains or runs a network);
    otherwise torch is limited only if already imported."""
    import SimpleITK as sitk
    from threadpoolctl import threadpool_limits

    if threads is None:
        yield
        return
    if torch:
        import importlib

        importlib.import_module("torch")  # imported now, so that it is limited below
    threads = max(1, int(threads))
    before = sitk.ProcessObject.GetGlobalDefaultNumberOfThreads()
    torch_module = sys.modules.get("torch")
    torch_before = torch_module.get_num_threads() if torch_module is not None else None
    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(threads)
    if torch_module is not None:
        torch_module.set_num_threads(threads)
    try:
        with threadpool_limits(limits=threads):
            yield
    finally:
        sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(before)
        if torch_module is not None:
            torch_module.set_num_threads(torch_before)
