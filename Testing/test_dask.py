"""Cohorts on Dask: a real scheduler and two workers, each its own process on 127.0.0.1.

The extraction cohort of test_cohort.py (the five PyRadiomics sample cases,
twice) runs through them and must give the table of an in-process run.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import pandas as pd
import pytest

from clitools import cli

PARAMS = "imageType: {Original: {}}\nfeatureClass: {shape: [], firstorder: [], glcm: []}\nsetting: {binWidth: 25}\n"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture()
def cluster(tmp_path):
    """`dask scheduler` and two `dask worker` processes, started with Dask's own commands."""
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    scripts = os.path.dirname(sys.executable)
    dask = os.path.join(scripts, "dask")
    processes = [subprocess.Popen([dask, "scheduler", "--host", "127.0.0.1", "--port", str(port),
                                   "--dashboard-address", "127.0.0.1:0"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    for name in ("worker-a", "worker-b"):
        processes.append(subprocess.Popen([dask, "worker", address, "--nthreads", "1", "--name", name,
                                           "--local-directory", str(tmp_path / name)],
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
    yield address, processes
    for process in reversed(processes):
        process.terminate()
    for process in processes:
        process.wait(timeout=30)


@pytest.fixture()
def cohort(tmp_path, data_dir):
    (tmp_path / "params.yaml").write_text(PARAMS)
    lines = ["case_id,image,mask,patient_id"]
    for repeat in range(2):
        for i, name in enumerate(["brain1", "brain2", "breast1", "lung1", "lung2"]):
            lines.append(f"{name}-{repeat},{data_dir}/{name}_image.nrrd,{data_dir}/{name}_label.nrrd,P{i}")
    (tmp_path / "manifest.csv").write_text("\n".join(lines) + "\n")
    return tmp_path


@pytest.mark.slow
def test_extraction_on_a_dask_cluster_equals_the_in_process_run(cluster, cohort):
    cluster, _ = cluster
    common = ["extract", "--manifest", cohort / "manifest.csv", "--params", cohort / "params.yaml"]
    cli(*common, "--out", cohort / "serial.csv", "--jobs", "1", "--progress", "none")
    done = cli(*common, "--out", cohort / "dask.csv", "--scheduler", cluster, "--progress", "none")
    assert "Dask dashboard" in done.stderr
    serial = pd.read_csv(cohort / "serial.csv")
    on_dask = pd.read_csv(cohort / "dask.csv")
    pd.testing.assert_frame_equal(on_dask, serial)
    assert on_dask["case_id"].is_unique and len(on_dask) == 10


def test_an_unreachable_scheduler_is_a_clear_error(cohort):
    done = cli("extract", "--manifest", cohort / "manifest.csv", "--params", cohort / "params.yaml",
               "--out", cohort / "x.csv", "--scheduler", f"tcp://127.0.0.1:{free_port()}", "--progress", "none",
               check=False)
    assert done.returncode == 2 and "no Dask scheduler answers" in done.stderr


@pytest.mark.slow
def test_a_worker_killed_mid_run_loses_no_case(cluster, cohort):
    """SIGKILL one of the two workers while cases run: Dask re-runs its case on the other, every case is
    committed exactly once and the table equals the in-process one."""
    import signal

    address, processes = cluster
    common = ["extract", "--manifest", cohort / "manifest.csv", "--params", cohort / "params.yaml"]
    cli(*common, "--out", cohort / "serial.csv", "--jobs", "1", "--progress", "none")
    run = subprocess.Popen([sys.executable, "-m", "RadiomicsWorkshopLib", *map(str, common), "--out",
                            cohort / "dask.csv", "--scheduler", address, "--progress", "none"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    parts = cohort / "dask.csv.parts"
    deadline = time.monotonic() + 120
    while len([p for p in parts.glob("*.json") if p.name != "run.json"]) < 2:
        assert time.monotonic() < deadline and run.poll() is None, "the run did not start"
        time.sleep(0.05)
    processes[2].send_signal(signal.SIGKILL)  # worker-b, mid-run
    out, err = run.communicate(timeout=300)
    assert run.returncode == 0, err
    on_dask = pd.read_csv(cohort / "dask.csv")
    assert on_dask["case_id"].is_unique and len(on_dask) == 10
    pd.testing.assert_frame_equal(on_dask, pd.read_csv(cohort / "serial.csv"))


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
               "--out", cohort / "hang_out.csv", "--jobs", "2", "--timeout", "15", "--progress", "none", check=False)
    assert done.returncode == 1, done.stderr
    assert time.monotonic() - started < 120
    table = pd.read_csv(cohort / "hang_out.csv")
    assert sorted(table["case_id"]) == sorted(line.split(",")[0] for line in manifest[1:4])
    failures = pd.read_csv(cohort / "hang_out.failures.csv")
    assert list(failures["case_id"]) == ["stalled"] and "timed out after 15 s" in failures["message"].iloc[0]


@pytest.mark.slow
def test_a_killed_dask_run_restarts_without_recomputing(cluster, cohort):
    """The whole run (the client) killed mid-cohort and started again: the cases committed before are not
    recomputed, and the table equals an uninterrupted run's."""
    import re
    import signal

    address, _ = cluster
    common = ["extract", "--manifest", cohort / "manifest.csv", "--params", cohort / "params.yaml"]
    cli(*common, "--out", cohort / "serial.csv", "--jobs", "1", "--progress", "none")
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
    pd.testing.assert_frame_equal(pd.read_csv(out), pd.read_csv(cohort / "serial.csv"))
