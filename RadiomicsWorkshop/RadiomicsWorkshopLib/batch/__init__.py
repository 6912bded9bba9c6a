"""Every step over a cohort: the runner (in-process, local processes, Dask; time-outs, atomic per-case commits, resume, assembly) and one adapter per step."""
