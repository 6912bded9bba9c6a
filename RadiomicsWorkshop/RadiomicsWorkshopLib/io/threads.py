"""``--jobs N`` is a budget of N cores: the threads that ITK's filters, BLAS / OpenMP (numpy, scipy,
scikit-learn's HistGradientBoosting) and torch may use in one process, set in one place."""

from __future__ import annotations

import contextlib
import sys
from typing import Iterator


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
def thread_budget(threads: int) -> Iterator[None]:
    """``set_thread_budget`` while the block runs in this process, then what was there before."""
    import SimpleITK as sitk
    from threadpoolctl import threadpool_limits

    threads = max(1, int(threads))
    before = sitk.ProcessObject.GetGlobalDefaultNumberOfThreads()
    torch = sys.modules.get("torch")
    torch_before = torch.get_num_threads() if torch is not None else None
    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(threads)
    if torch is not None:
        torch.set_num_threads(threads)
    try:
        with threadpool_limits(limits=threads):
            yield
    finally:
        sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(before)
        if torch is not None:
            torch.set_num_threads(torch_before)
