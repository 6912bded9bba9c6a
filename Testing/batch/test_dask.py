"""Cohorts on Dask: a real scheduler and two workers, each its own process on 127.0.0.1.

The extraction cohort of test_cohort.py (the five PyRadiomics sample cases,
twice) runs through them and must give the table of an in-process run.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk
from clitools import cli, write_untrained_bundle

PARAMS = "imageType: {Original: {}}\nfeatureClass: {shape: [], firstorder: [], glcm: []}\nsetting: {binWidth: 25}\n"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_cluster(folder: Path, *, worker_options: tuple[str, ...] = (), scheduler_env: dict | None = None,
                  worker_env: dict | None = None):
    """`dask scheduler` and two `dask worker` processes, started with Dask's own commands; returns the
    scheduler's address and the processes (scheduler first)."""
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    dask = os.path.join(os.path.dirname(sys.executable), "dask")
    processes = [subprocess.Popen([dask, "scheduler", "--host", "127.0.0.1", "--port", str(port),
                                   "--dashboard-address", "127.0.0.1:0"], env={**os.environ, **(scheduler_env or {})},
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    for name in ("worker-a", "worker-b"):
        processes.append(subprocess.Popen([dask, "worker", address, "--nthreads", "1", "--name", name,
                                           "--local-directory", str(folder / name), *worker_options],
                                          env={**os.environ, **(worker_env or {})},
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    from distributed import Client

    deadline = time.monotonic() + 60
    while True:
        try:
            with Client(address, timeout="5s") as client:
                if len(client.scheduler_info()["workers"]) == 2:
                    break
        except OSError:
            pass
        assert time.monotonic() < deadline, "the Dask cluster did not start"
        time.sleep(0.5)
    return address, processes


def stop_cluster(processes) -> None:
    for process in reversed(processes):
        process.terminate()
    for process in processes:
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:  # a nanny busy restarting its worker may not stop on SIGTERM
            process.kill()
            process.wait(timeout=30)


@pytest.fixture()
def cluster(tmp_path):
    """A cluster of its own, for a test that kills its workers."""
    address, processes = start_cluster(tmp_path)
    yield address, processes
    stop_cluster(processes)


@pytest.fixture(scope="module")
def shared_cluster(tmp_path_factory):
    """One cluster for the tests that leave its workers alive (a cluster takes seconds to start)."""
    address, processes = start_cluster(tmp_path_factory.mktemp("shared_cluster"))
    yield address, processes
    stop_cluster(processes)


def _write_cohort(folder: Path, data_dir: Path) -> Path:
    (folder / "params.yaml").write_text(PARAMS)
    lines = ["case_id,image,mask,patient_id"]
    for repeat in range(2):
        for i, name in enumerate(["brain1", "brain2", "breast1", "lung1", "lung2"]):
            lines.append(f"{name}-{repeat},{data_dir}/{name}_image.nrrd,{data_dir}/{name}_label.nrrd,P{i}")
    (folder / "manifest.csv").write_text("\n".join(lines) + "\n")
    return folder


@pytest.fixture()
def cohort(tmp_path, data_dir):
    return _write_cohort(tmp_path, data_dir)


@pytest.fixture(scope="module")
def serial_table(tmp_path_factory, data_dir) -> pd.DataFrame:
    """The cohort extracted in one process (--jobs 1), once for the tests that compare a Dask run with it."""
    folder = _write_cohort(tmp_path_factory.mktemp("serial"), data_dir)
    cli("extract", "--manifest", folder / "manifest.csv", "--params", folder / "params.yaml",
        "--out", folder / "serial.csv", "--jobs", "1", "--progress", "none")
    return pd.read_csv(folder / "serial.csv")


@pytest.mark.slow
def test_extraction_on_a_dask_cluster_equals_the_in_process_run(shared_cluster, cohort):
    """The cohort, plus a corrupt image among the good ones: the same table, and the same failure record,
    from the cluster as from one process; the run ends with a summary."""
    cluster, _ = shared_cluster
    corrupt = cohort / "corrupt.nrrd"
    good = (cohort / "manifest.csv").read_text().splitlines()
    corrupt.write_bytes(Path(good[1].split(",")[1]).read_bytes()[:3000])  # a header and a truncated body
    mask = good[1].split(",")[2]
    (cohort / "manifest.csv").write_text("\n".join(good[:4] + [f"corrupt,{corrupt},{mask},P8"] + good[4:]) + "\n")
    common = ["extract", "--manifest", cohort / "manifest.csv", "--params", cohort / "params.yaml"]
    cli(*common, "--out", cohort / "serial.csv", "--jobs", "1", "--progress", "none", check=False)
    done = cli(*common, "--out", cohort / "dask.csv", "--scheduler", cluster, "--progress", "none", check=False)
    assert done.returncode == 1, done.stderr  # some cases failed, the others are in the table
    assert "Dask: 2 worker(s), 2 thread(s) on 1 host(s); dashboard: http" in done.stderr
    summary = re.search(r"10 row\(s\) from 10 case\(s\) .* \(11 computed, 0 already done, 1 failed, "
                        r"[0-9.]+ s, ([0-9.]+) cases/min\)", done.stderr)
    assert summary and float(summary.group(1)) > 0, done.stderr
    serial = pd.read_csv(cohort / "serial.csv")
    on_dask = pd.read_csv(cohort / "dask.csv")
    pd.testing.assert_frame_equal(on_dask, serial)
    assert on_dask["case_id"].is_unique and len(on_dask) == 10
    failures = pd.read_csv(cohort / "dask.failures.csv")
    assert list(failures["case_id"]) == ["corrupt"] and failures["file"].iloc[0] == str(corrupt)
    pd.testing.assert_frame_equal(failures, pd.read_csv(cohort / "serial.failures.csv"))
    provenance = json.loads((cohort / "dask.provenance.json").read_text())
    assert provenance["cases"]["corrupt"]["failed"] and provenance["timing"]["done"] == 11


def test_an_unreachable_scheduler_is_a_clear_error(cohort):
    done = cli("extract", "--manifest", cohort / "manifest.csv", "--params", cohort / "params.yaml",
               "--out", cohort / "x.csv", "--scheduler", f"tcp://127.0.0.1:{free_port()}", "--progress", "none",
               check=False)
    assert done.returncode == 2 and "no Dask scheduler answers" in done.stderr


@pytest.mark.slow
def test_a_worker_killed_mid_run_loses_no_case(cluster, cohort, serial_table):
    """SIGKILL one of the two workers while it runs a case: Dask re-runs that case on the other, every case is
    committed exactly once and the table equals the in-process one."""
    import signal

    from distributed import Client

    address, processes = cluster
    common = ["extract", "--manifest", cohort / "manifest.csv", "--params", cohort / "params.yaml"]
    run = subprocess.Popen([sys.executable, "-m", "RadiomicsWorkshopLib", *map(str, common), "--out",
                            cohort / "dask.csv", "--scheduler", address, "--progress", "none"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    with Client(address, timeout="10s") as client:
        victim = next(w for w, info in client.scheduler_info()["workers"].items() if info["name"] == "worker-b")
        while not client.processing().get(victim):  # worker-b is running a case now
            assert time.monotonic() < deadline and run.poll() is None, "worker-b never got a case"
            time.sleep(0.02)
        running = client.processing()[victim]
        processes[2].send_signal(signal.SIGKILL)  # worker-b, mid-case
    out, err = run.communicate(timeout=300)
    assert run.returncode == 0, err
    assert running and all(str(key).startswith("case-") for key in running), running
    on_dask = pd.read_csv(cohort / "dask.csv")
    assert on_dask["case_id"].is_unique and len(on_dask) == 10
    pd.testing.assert_frame_equal(on_dask, serial_table)


@pytest.mark.slow
def test_a_case_that_hangs_times_out_and_the_rest_finish(cohort, tmp_path):
    """One case's image is a named pipe nobody writes to: reading it blocks forever, as a stalled network
    share does. With --timeout the case is recorded as timed out and the other cases are done."""
    os.mkfifo(tmp_path / "stalled.nrrd")
    manifest = (cohort / "manifest.csv").read_text().splitlines()[:4]
    brain = manifest[1].split(",")
    manifest.append(f"stalled,{tmp_path / 'stalled.nrrd'},{brain[2]},P9")
    (cohort / "hang.csv").write_text("\n".join(manifest) + "\n")
    started = time.monotonic()
    done = cli("extract", "--manifest", cohort / "hang.csv", "--params", cohort / "params.yaml",
               "--out", cohort / "hang_out.csv", "--jobs", "2", "--timeout", "8", "--progress", "none", check=False)
    assert done.returncode == 1, done.stderr
    assert time.monotonic() - started < 120
    table = pd.read_csv(cohort / "hang_out.csv")
    assert sorted(table["case_id"]) == sorted(line.split(",")[0] for line in manifest[1:4])
    failures = pd.read_csv(cohort / "hang_out.failures.csv")
    assert list(failures["case_id"]) == ["stalled"] and "timed out after 8 s" in failures["message"].iloc[0]


@pytest.mark.slow
def test_a_killed_dask_run_restarts_without_recomputing(shared_cluster, cohort, serial_table):
    """The whole run (the client) killed mid-cohort and started again: the cases committed before are not
    recomputed, and the table equals an uninterrupted run's."""
    import re
    import signal

    address, _ = shared_cluster
    common = ["extract", "--manifest", cohort / "manifest.csv", "--params", cohort / "params.yaml"]
    out = cohort / "dask.csv"
    parts = cohort / "dask.csv.parts"
    run = subprocess.Popen([sys.executable, "-m", "RadiomicsWorkshopLib", *map(str, common), "--out", out,
                            "--scheduler", address, "--progress", "none"], start_new_session=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def committed() -> dict:
        return {p.name: p.read_text() for p in parts.glob("*.json") if p.name != "run.json"}

    deadline = time.monotonic() + 120
    while len(committed()) < 3 and time.monotonic() < deadline and run.poll() is None:
        time.sleep(0.05)
    os.killpg(run.pid, signal.SIGKILL)
    run.wait()
    before = committed()
    assert 3 <= len(before) < 10, f"kill came too late ({len(before)} cases done)"
    done = cli(*common, "--out", out, "--scheduler", address, "--progress", "none")
    after = committed()
    assert {name: after[name] for name in before} == before, "cases committed before the kill were recomputed"
    skipped = int(re.search(r"(\d+) already done", done.stderr).group(1))
    computed = int(re.search(r"\((\d+) computed", done.stderr).group(1))
    assert skipped >= len(before) and skipped + computed == 10
    pd.testing.assert_frame_equal(pd.read_csv(out), serial_table)


@pytest.mark.slow
def test_every_batch_step_runs_on_the_cluster(shared_cluster, cohort, tmp_path):
    """preprocess, deep-features and segment on the cluster give what two local processes give (one core
    per worker on both sides, so that torch's arithmetic is the same)."""
    address, _ = shared_cluster
    manifest = cohort / "small.csv"
    manifest.write_text("\n".join((cohort / "manifest.csv").read_text().splitlines()[:4]) + "\n")
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text("name: test\nsteps:\n  - resample: {spacing: [2.0, 2.0, 3.0]}\n  - normalize: {method: zscore}\n")
    bundle = write_untrained_bundle(tmp_path / "bundle")
    steps = {
        "preprocess": (["--recipe", recipe], "--out-dir", "manifest.csv"),
        "deep-features": (["--model", "resnet18", "--weights", "random", "--device", "cpu"], "--out", "deep.csv"),
        "segment": (["--model", bundle, "--device", "cpu"], "--out-dir", "manifest.csv"),
    }
    for step, (options, out_option, table) in steps.items():
        results = {}
        for where, run in (("local", ["--jobs", "2"]), ("dask", ["--scheduler", address])):
            out = tmp_path / f"{step}-{where}"
            target = out if out_option == "--out-dir" else out / table
            done = cli(step, "--manifest", manifest, *options, out_option, target, *run, "--progress", "none")
            assert "3 computed" in done.stderr, done.stderr
            results[where] = pd.read_csv(out / table)
        local, on_dask = results["local"], results["dask"]
        assert list(on_dask["case_id"]) == list(local["case_id"]) and len(local) == 3
        if step == "deep-features":
            pd.testing.assert_frame_equal(on_dask, local)
            continue
        column = "image" if step == "preprocess" else "mask"
        for a, b in zip(local[column], on_dask[column]):
            first = sitk.ReadImage(str(tmp_path / f"{step}-local" / a))
            second = sitk.ReadImage(str(tmp_path / f"{step}-dask" / b))
            assert first.GetSize() == second.GetSize() and first.GetSpacing() == second.GetSpacing()
            np.testing.assert_array_equal(sitk.GetArrayFromImage(first), sitk.GetArrayFromImage(second))
        if step == "segment":
            assert list(on_dask["reference_mask"]) == [line.split(",")[2] for line in
                                                       manifest.read_text().splitlines()[1:]]


@pytest.mark.slow
def test_a_case_that_kills_every_worker_is_recorded_and_the_rest_finish(cohort, tmp_path):
    """An image too large for the workers' memory limit: each worker that reads it is killed by its nanny.
    Dask gives up on that case (KilledWorker); it is recorded as failed and the other cases finish."""
    import numpy as np

    big = tmp_path / "too_big.nrrd"
    sitk.WriteImage(sitk.GetImageFromArray(np.ones((400, 1024, 1024), np.int16)), str(big))  # 800 MB in memory
    lines = (cohort / "manifest.csv").read_text().splitlines()[:4]
    lines.append(f"too_big,{big},{lines[1].split(',')[2]},P9")
    (cohort / "oom.csv").write_text("\n".join(lines) + "\n")
    address, processes = start_cluster(tmp_path, worker_options=("--memory-limit", "700MB"),
                                       scheduler_env={"DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "1"})
    try:
        done = cli("extract", "--manifest", cohort / "oom.csv", "--params", cohort / "params.yaml", "--out",
                   cohort / "oom_out.csv", "--scheduler", address, "--progress", "none", check=False)
    finally:
        stop_cluster(processes)
    assert done.returncode == 1, done.stderr
    table = pd.read_csv(cohort / "oom_out.csv")
    assert sorted(table["case_id"]) == sorted(line.split(",")[0] for line in lines[1:4])
    failures = pd.read_csv(cohort / "oom_out.failures.csv")
    assert list(failures["case_id"]) == ["too_big"]
    assert "Dask gave up on this case (KilledWorker" in failures["message"].iloc[0], failures["message"].iloc[0]


@pytest.mark.slow
def test_scheduler_local_equals_the_in_process_run(cohort):
    """--scheduler local: a LocalCluster of --jobs single-threaded workers, the same table as --jobs 1."""
    manifest = pd.read_csv(cohort / "manifest.csv").iloc[:3]
    manifest.to_csv(cohort / "three.csv", index=False)
    base = ["extract", "--manifest", cohort / "three.csv", "--params", cohort / "params.yaml"]
    cli(*base, "--out", cohort / "serial.csv", "--jobs", "1")
    done = cli(*base, "--out", cohort / "local.csv", "--scheduler", "local", "--jobs", "2")
    assert "3 computed" in done.stderr
    pd.testing.assert_frame_equal(pd.read_csv(cohort / "local.csv"), pd.read_csv(cohort / "serial.csv"))


@pytest.mark.slow
def test_a_worker_without_pyradiomics_fails_a_pyradiomics_run_at_once(cohort, tmp_path):
    """Workers whose Python has no PyRadiomics (its import fails there) stop a run that asks for PyRadiomics
    (``--engine pyradiomics``) before any case, with the worker's error, instead of failing every case one
    by one; the same workers extract with our engine, which needs no PyRadiomics."""
    broken = tmp_path / "no-pyradiomics" / "radiomics"
    broken.mkdir(parents=True)
    (broken / "__init__.py").write_text("raise ImportError(\"No module named 'radiomics' (this worker's Python)\")\n")
    address, processes = start_cluster(tmp_path, worker_env={"PYTHONPATH": str(broken.parent)})
    try:
        started = time.monotonic()
        done = cli("extract", "--manifest", cohort / "manifest.csv", "--params", cohort / "params.yaml",
                   "--out", cohort / "f.csv", "--scheduler", address, "--engine", "pyradiomics", check=False)
        assert done.returncode == 2, done.stderr
        assert "radiomics" in done.stderr and time.monotonic() - started < 60, done.stderr
        assert not (cohort / "f.csv").exists()
        parts = cohort / "f.csv.parts"
        assert not [p for p in parts.glob("*.json") if p.name != "run.json"] if parts.exists() else True
        done = cli("extract", "--manifest", cohort / "manifest.csv", "--params", cohort / "params.yaml",
                   "--out", cohort / "ours.csv", "--scheduler", address, "--overwrite", check=False)
        assert done.returncode == 0, done.stderr
        assert len(pd.read_csv(cohort / "ours.csv")) == len(pd.read_csv(cohort / "manifest.csv"))
    finally:
        stop_cluster(processes)
