"""The batch engine: any per-case step over a cohort, parallel, resumable, failure-tolerant.

The steps themselves are adapters beside it (extract_cohort, preprocess_cohort, deep_cohort, seg_cohort):
each gives ``run_step`` its task, how a case is keyed and what its commits hold (``StepOutput``).

Each case is committed on its own, atomically, as one JSON file in
``<table>.parts/`` (rows + provenance) or as a failure record; the table is
assembled from those files at the end, in manifest order. A case is keyed by
its id, the hashes of its input files and the settings, so re-running the same
command skips what is done (an interrupted run resumes, a changed input or
setting recomputes) and every case appears exactly once.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import shutil
import sys
import time
import traceback
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pandas as pd

from ..io import tables
from ..io.columns import ROW_KEY
from ..io.errors import OutputExistsError, WorkshopError
from ..io.manifest import Case
from ..io.progress import Progress
from ..io.provenance import file_digest, library_versions
from ..io.threads import set_thread_budget, thread_budget

RUN_FILE = "run.json"

# The LocalCluster of --scheduler local, tuned for batches of long CPU-bound tasks (measured on the
# 40-case benchmark): Dask's nanny sets MALLOC_TRIM_THRESHOLD_ for its workers, which makes glibc hand
# memory back to the system after nearly every free, and PyRadiomics' many short-lived arrays then run
# ~10% slower; the workers' statistical profiler samples the running thread every 10 ms, and the
# scheduler, nannies and workers wake every 20-500 ms to watch their event loops and the machine, which
# on a small machine takes CPU time from the cases (a few % together). A worker saturation of 1 sends a
# worker its next case only when it is free, as a process pool does: no case waits behind a long one.
LOCAL_CLUSTER_CONFIG = {"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None,
                        "distributed.scheduler.worker-saturation": 1.0,
                        "distributed.worker.profile.enabled": False,
                        "distributed.admin.tick.interval": "500ms",
                        "distributed.admin.system-monitor.interval": "2s",
                        "distributed.worker.memory.monitor-interval": "1s"}


@dataclass
class CohortSummary:
    table: Path
    done: int = 0
    skipped: int = 0
    failed: list[dict[str, Any]] = field(default_factory=list)
    rows: int = 0
    seconds: float = 0.0
    compute_seconds: float = 0.0  # running the cases, before the table is assembled

    @property
    def ok(self) -> bool:
        return not self.failed

    @property
    def cases_per_minute(self) -> float | None:
        """Throughput of this run: cases computed (not skipped) per minute of computing."""
        return round(60 * self.done / self.compute_seconds, 2) if self.done and self.compute_seconds > 0 else None

    def counts(self) -> dict[str, Any]:
        return {"rows": self.rows, "done": self.done, "skipped": self.skipped, "failed": len(self.failed),
                "seconds": round(self.seconds, 3), "cases_per_minute": self.cases_per_minute}


def parts_dir(table: Path) -> Path:
    return table.with_name(table.name + ".parts")


def safe_name(case_id: str) -> str:
    """A file name for a case id (any id: its characters kept where safe, a hash making it unique)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", case_id)[:80] + "-" + hashlib.sha1(case_id.encode()).hexdigest()[:8]


def case_key(case: Case, settings_digest: str, extra: Any = None) -> tuple[str, dict[str, str]]:
    """The key a committed case is found under: id, input hashes, settings."""
    hashes = {"image": file_digest(case.image), "mask": file_digest(case.mask)}
    payload = json.dumps([case.case_id, hashes, case.rois, case.patient_id, settings_digest, extra], default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:20], hashes


def _input_size(case: Case) -> int:
    try:
        return case.image.stat().st_size if case.image.is_file() else 0
    except OSError:
        return 0


def _init_worker(threads: int, prepare: Callable[[], Any] | None = None) -> None:
    """Give a worker process its share of the cores (ITK, BLAS / OpenMP and torch would otherwise use them all in
    every worker) and load what every case needs (``prepare``: imports, an extractor, a network)."""
    set_thread_budget(threads)
    if prepare is not None:
        prepare()


def _init_dask_worker(threads_on_host: dict[str, int], prepare: Callable[[], Any] | None = None,
                      dask_worker=None) -> None:
    """``_init_worker`` on a Dask worker: the host's cores shared among all worker threads on that host."""
    from distributed.comm import get_address_host

    busy = threads_on_host.get(get_address_host(dask_worker.address), 1) if dask_worker is not None else 1
    _init_worker(max(1, (os.cpu_count() or 1) // busy), prepare)


def commit_case(case: Case, part_file: Path, key: str, hashes: dict[str, str], work: Callable[[], dict],
                t0: float) -> dict[str, Any]:
    """Run ``work`` for one case and commit its result, or its failure, atomically to ``part_file``."""
    record: dict[str, Any] = {"key": key, "case_id": case.case_id, "image": str(case.image),
                              "mask": str(case.mask), "hashes": hashes}
    try:
        record.update(status="ok", **work())
    except WorkshopError as exc:
        record.update(status="failed", **{k: v for k, v in exc.to_record().items() if k != "case_id"})
        record["file"] = exc.file
    except Exception as exc:  # an unexpected failure of one case must not stop the cohort
        record.update(status="failed", error=type(exc).__name__, message=str(exc) or type(exc).__name__,
                      file=str(case.image), hint="unexpected error; see the traceback in the provenance",
                      traceback=traceback.format_exc(limit=8))
    record["seconds"] = round(time.perf_counter() - t0, 4)
    tables.write_json(record, part_file)
    return {k: v for k, v in record.items() if k not in ("rows", "info")}


def _run_child(connection, task: Callable, case: Case, part_file: Path, keyed) -> None:
    try:
        connection.send(task(case, part_file, keyed))
    finally:
        connection.close()
        os._exit(0)  # no atexit handlers of the parent (a Dask worker's, say) in this child


def run_with_timeout(task: Callable, case: Case, part_file: Path, keyed=None, *, timeout: float) -> dict[str, Any]:
    """Run ``task`` for one case in a child process; past ``timeout`` seconds the child is killed and the
    case committed as failed ("timed out"), so a case that hangs (a stalled network file, say) cannot hold
    up the cohort. The task commits its own result otherwise."""
    import multiprocessing

    context = multiprocessing.get_context("fork" if os.name == "posix" else "spawn")
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(target=_run_child, args=(sender, task, case, part_file, keyed), daemon=True)
    t0 = time.perf_counter()
    child.start()
    sender.close()
    try:
        if receiver.poll(timeout):
            return receiver.recv()
    except EOFError:  # the child died without an answer (killed, out of memory)
        pass
    finally:
        if child.is_alive():
            child.kill()
        child.join()
        receiver.close()
    timed_out = time.perf_counter() - t0 >= timeout
    message = (f"timed out after {timeout:g} s" if timed_out else
               f"the process computing this case died (exit code {child.exitcode})")
    hint = ("check the case's files (a stalled network share?), or raise --timeout" if timed_out else
            "the case may need more memory than the machine has")

    # No input hashes: reading the files may be what hung. The key never matches, so the case is retried.
    return commit_failure(case, part_file, keyed, message, hint, t0)


def commit_failure(case: Case, part_file: Path, keyed, message: str, hint: str, t0: float) -> dict[str, Any]:
    """Commit a case that failed outside its task (timed out, its process or worker died) as failed. Without
    the case's key (it is computed in the task) a placeholder never matches, so the next run retries it."""
    def fail() -> dict:
        raise WorkshopError(message, case_id=case.case_id, file=case.image, hint=hint)

    return commit_case(case, part_file, keyed[0] if keyed else "unfinished", keyed[1] if keyed else {}, fail, t0)


def prepare_parts(out: Path, digest: str, settings: dict, overwrite: bool) -> Path:
    """The folder of per-case commits for ``out``: resumed when the settings match, else refused."""
    parts = parts_dir(out)
    run_file = parts / RUN_FILE
    same_settings = run_file.is_file() and tables.read_json(run_file).get("params_digest") == digest
    if overwrite:
        shutil.rmtree(parts, ignore_errors=True)
    elif parts.exists() and not same_settings:
        raise OutputExistsError(f"an earlier run with other settings left '{parts}'", file=out,
                                hint="pass --overwrite to start again, or choose another --out")
    elif out.exists() and not parts.exists():
        raise OutputExistsError("output exists", file=out, hint="pass --overwrite to replace it, or choose another --out")
    parts.mkdir(parents=True, exist_ok=True)
    tables.write_json({"params_digest": digest, **settings}, run_file)
    return parts


def process_cases(cases: list[Case], parts: Path, key_fn: Callable[[Case], tuple[str, dict]], task: Callable,
                  summary: CohortSummary, *, jobs: int = 1, retry_failed: bool = False,
                  progress: Progress | None = None, scheduler: str | None = None,
                  timeout: float | None = None, prepare: Callable[[], Any] | None = None,
                  threads: int | None = None) -> None:
    """Run ``task(case, part_file, keyed)`` for every case not already committed under this key.

    The one runner of every batch step: skips done cases, runs the others in
    this process (``jobs`` 1), in ``jobs`` processes, or on a Dask cluster
    (``scheduler``: a scheduler address, or "local" for a LocalCluster of
    ``jobs`` single-threaded worker processes), and reports progress. The task
    commits its own result (or failure) to ``part_file`` and returns a small
    status dict; ``task`` must be picklable (a module-level function or a
    functools.partial of one). With ``timeout`` each case runs in a child process that is killed when it
    takes longer (``run_with_timeout``). ``prepare`` is run once per worker before its first case (on Dask,
    on every worker up front, so that a worker missing a dependency fails the run at once). ``threads``: the
    cores of a run in this process (default ``jobs``; the torch steps give their one process every core).
    """
    progress = progress or Progress("none")
    if timeout:
        task = functools.partial(run_with_timeout, task, timeout=timeout)
    progress.start(len(cases), f"{len(cases)} case(s)")
    todo: list[tuple[Case, Path, tuple[str, dict] | None]] = []
    for case in cases:
        part_file = parts / f"{safe_name(case.case_id)}.json"
        keyed = None
        if part_file.is_file():  # only then is the key needed here, to decide whether to skip
            keyed = key_fn(case)
            previous = tables.read_json(part_file)
            if previous.get("key") == keyed[0] and (previous["status"] == "ok" or not retry_failed):
                summary.skipped += 1
                progress.advance(case.case_id, skipped=True, failed=previous["status"] != "ok")
                continue
        todo.append((case, part_file, keyed))

    def finished(status: dict) -> None:
        failed = status["status"] != "ok"
        summary.done += 1
        for warning in status.get("warnings") or ():
            progress.log(f"{status['case_id']}: {warning}", "warning")
        if failed:
            progress.error(status.get("message", ""), case_id=status["case_id"], file=status.get("file"),
                           hint=status.get("hint"))
        progress.advance(status["case_id"], failed=failed)

    if scheduler or jobs > 1:  # largest images first, so that no big case starts last while the others idle
        todo.sort(key=lambda item: _input_size(item[0]), reverse=True)
    if scheduler and todo:
        _run_on_dask(todo, task, finished, scheduler, jobs, progress, prepare)
        return
    if prepare is not None and todo:
        prepare()  # here, so that forked workers inherit what it loads
    if jobs <= 1 or len(todo) <= 1:
        with thread_budget(threads or jobs):
            for case, part_file, keyed in todo:
                finished(task(case, part_file, keyed))
        return
    import multiprocessing

    context = multiprocessing.get_context("fork" if os.name == "posix" else "spawn")
    workers = min(jobs, len(todo))
    threads = max(1, jobs // workers)
    with ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_init_worker,
                             initargs=(threads,)) as pool:
        futures = [pool.submit(task, case, part_file, keyed) for case, part_file, keyed in todo]
        for future in as_completed(futures):
            finished(future.result())


def _run_on_dask(todo: list, task: Callable, finished: Callable[[dict], None], scheduler: str, jobs: int,
                 progress: Progress, prepare: Callable[[], Any] | None = None) -> None:
    """Submit one task per case to Dask and commit the results as they complete.

    Dask re-runs the case of a worker that dies (``retries``); the case is committed by whichever run
    finishes, atomically, so it appears once. The workers must see the same files (shared storage)."""
    try:
        import dask
        from distributed import Client, LocalCluster
        from distributed import as_completed as completed
    except ImportError:
        raise WorkshopError("--scheduler needs Dask", hint="pip install 'dask[distributed]' (or the project's "
                                                           "[dask] extra), or leave --scheduler out") from None

    cluster = None
    if scheduler == "local":
        with dask.config.set(LOCAL_CLUSTER_CONFIG):
            cluster = LocalCluster(n_workers=max(1, jobs), threads_per_worker=1, processes=True,
                                   dashboard_address="127.0.0.1:0")
        client = Client(cluster)
    else:
        try:
            client = Client(scheduler, timeout="10s")
        except OSError as exc:
            raise WorkshopError(f"no Dask scheduler answers at {scheduler} ({exc})",
                                hint="start one with `dask scheduler` (and workers with `dask worker ADDRESS`), "
                                     "or use --scheduler local") from None
    try:
        workers = client.scheduler_info()["workers"]
        threads_on_host: dict[str, int] = {}
        for info in workers.values():
            threads_on_host[info["host"]] = threads_on_host.get(info["host"], 0) + info["nthreads"]
        message = (f"Dask: {len(workers)} worker(s), {sum(threads_on_host.values())} thread(s) on "
                   f"{len(threads_on_host)} host(s); dashboard: {client.dashboard_link}")
        progress.log(message)
        if progress.mode == "none":  # the link is always worth showing
            print(message, file=sys.stderr)
        if not workers:
            progress.log("no Dask worker has joined yet: the cases wait until one does", "warning")
        try:
            client.run(_init_dask_worker, threads_on_host, prepare)
        except Exception as exc:
            raise WorkshopError(f"the Dask workers cannot run this step ({type(exc).__name__}: {exc})",
                                hint="install the project and its dependencies in the workers' environment "
                                     "(pip install 'radiomics-workshop[dask]')") from None
        futures, submitted = [], {}
        for case, part_file, keyed in todo:
            futures.append(client.submit(task, case, part_file, keyed, pure=False, retries=2,
                                         key=f"case-{safe_name(case.case_id)}-{time.time_ns()}"))
            submitted[futures[-1].key] = (case, part_file, keyed)
        for future in completed(futures):
            try:
                status = future.result()
            except Exception as exc:  # the task itself never raises: Dask gave up on it (workers died running it)
                status = _commit_lost_case(*submitted[future.key], exc)
            finished(status)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _commit_lost_case(case: Case, part_file: Path, keyed, exc: Exception) -> dict[str, Any]:
    """Record a case Dask gave up on (e.g. KilledWorker: each worker that ran it died, out of memory, say)."""
    return commit_failure(case, part_file, keyed, f"Dask gave up on this case ({type(exc).__name__}: {str(exc)[:300]})",
                          "the workers running it died: give them more memory, or check the case's files; "
                          "then run again with --retry-failed", time.perf_counter())


@dataclass
class StepOutput:
    """How a step turns its committed cases into its output table and provenance.

    ``rows`` gives a committed case's table rows, ``entry`` its provenance entry; each of ``sections``
    gives an extra top-level provenance map (case id -> value, None leaves the case out);
    ``describe_columns`` maps the table's columns to extra top-level provenance entries.
    """

    rows: Callable[[Case, dict], list[dict[str, Any]]]
    entry: Callable[[Case, dict], dict[str, Any]]
    empty_columns: tuple[str, ...] = ROW_KEY
    numeric: bool = True
    sections: dict[str, Callable[[Case, dict], Any]] = field(default_factory=dict)
    describe_columns: Callable[[list[str]], dict[str, Any]] | None = None


def run_step(cases: list[Case], out: Path, *, step: str, digest: str, settings: dict[str, Any],
             key_fn: Callable[[Case], tuple[str, dict]], task: Callable, output: StepOutput,
             provenance: dict[str, Any] | None = None, progress: Progress | None = None,
             overwrite: bool = False, retry_failed: bool = False, jobs: int = 1, scheduler: str | None = None,
             timeout: float | None = None, prepare: Callable[[], Any] | None = None,
             threads: int | None = None) -> CohortSummary:
    """Run one batch step over a cohort: commit every case, then assemble ``out`` and its provenance.

    Shared by extract, preprocess, deep-features and segment; see ``process_cases`` for the backends.
    """
    progress = progress or Progress("none", step=step)
    t0 = time.perf_counter()
    parts = prepare_parts(out, digest, settings, overwrite)
    summary = CohortSummary(table=out)
    process_cases(cases, parts, key_fn, task, summary, jobs=jobs, retry_failed=retry_failed, progress=progress,
                  scheduler=scheduler, timeout=timeout, prepare=prepare, threads=threads)
    summary.compute_seconds = time.perf_counter() - t0
    head = {"table": out.name, "step": step, "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **(provenance or {}),
            "versions": library_versions()}
    assemble(cases, parts, out, summary, output, head, t0)
    summary.seconds = time.perf_counter() - t0
    progress.close()
    progress.result(str(out), **summary.counts())
    return summary


def committed(cases: list[Case], parts: Path):
    """(case, its committed record) in manifest order, read one at a time."""
    for case in cases:
        yield case, tables.read_json(parts / f"{safe_name(case.case_id)}.json")


def assemble(cases: list[Case], parts: Path, out: Path, summary: CohortSummary, output: StepOutput,
             head: dict[str, Any], t0: float) -> None:
    """Write ``out`` (+ failures) and its provenance from the committed cases, streaming: one case's rows
    in memory at a time. A first pass finds the columns (the union over cases, in order of appearance)."""
    columns: dict[str, None] = {}
    for case, record in committed(cases, parts):
        if record["status"] == "ok":
            for row in output.rows(case, record):
                columns.update(dict.fromkeys(row))
    with tables.TableWriter(out, list(columns) or list(output.empty_columns), numeric=output.numeric) as writer:
        def entries():
            for case, record in committed(cases, parts):
                if record["status"] == "ok":
                    rows = output.rows(case, record)
                    if rows:
                        writer.write(rows)
                    yield case.case_id, output.entry(case, record)
                else:
                    yield case.case_id, note_failure(summary, case, record)

        def section(value_of):
            def items():
                for case, record in committed(cases, parts):
                    value = value_of(case, record) if record["status"] == "ok" else None
                    if value is not None:
                        yield case.case_id, value
            return items

        def tail() -> dict[str, Any]:
            described = output.describe_columns(list(columns)) if output.describe_columns else {}
            return {**described, "failures": summary.failed,
                    "timing": {"seconds_this_run": round(time.perf_counter() - t0, 3), **summary.counts()}}

        tables.write_json_streamed(tables.provenance_path(out), head,
                                   {"cases": entries, **{k: section(v) for k, v in output.sections.items()}}, tail)
    summary.rows = writer.rows
    failures = tables.failures_path(out)
    if summary.failed:
        pd.DataFrame(summary.failed).to_csv(failures, index=False)
    elif failures.exists():
        failures.unlink()


def note_failure(summary: CohortSummary, case: Case, record: dict[str, Any]) -> dict[str, Any]:
    """Add a failed case's record to the summary; returns what the provenance keeps of it."""
    summary.failed.append({"case_id": case.case_id, "image": record["image"], "mask": record["mask"],
                           "file": record.get("file"), "error": record.get("error"),
                           "message": record.get("message"), "hint": record.get("hint")})
    return {"failed": True, **{k: record.get(k) for k in ("error", "message", "hint", "traceback", "hashes")}}
