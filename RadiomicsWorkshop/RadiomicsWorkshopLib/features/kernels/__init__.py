"""The feature engine's compiled loops (numba): ``shape`` (the mesh, its diameters) and ``texture`` (the
matrices and their features), where numpy would need many passes or O(n^2) memory.

Each kernel is compiled on its first call and cached on disk (``cache=True``: in ``__pycache__`` beside this
file, or numba's user-wide cache folder where that is not writable; ``NUMBA_CACHE_DIR`` overrides both), so a
fresh environment compiles once, in seconds (benchmarks/bench_engines.py measures it), and every later process
loads the machine code. Numba ships wheels for every platform and Python that Slicer uses: no compiler needed.
"""
