"""``--jobs N`` is a budget of N cores: observed inside the cases the runner runs (ITK's thread count,
threadpoolctl's view of BLAS / OpenMP, torch's intra-op threads), not timed. One case on --jobs 2 gets 2 threads;
two cases on --jobs 2 run in worker processes of one thread each; a torch step in one process gives torch every
core; modelling fits with one thread per process; $RADIOMICS_WORKSHOP_JOBS is the default of --jobs. (The
networks' trainings are observed where they are tested: test_cnn.py, test_autoseg.py.)"""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path

import pytest
import SimpleITK as sitk
import torch
from clitools import cli
from RadiomicsWorkshopLib.batch.runner import CohortSummary, commit_case, process_cases
from RadiomicsWorkshopLib.io.manifest import Case
from RadiomicsWorkshopLib.io.threads import thread_budget
from threadpoolctl import threadpool_info


def _threads_seen() -> dict:
    import numpy  # noqa: F401  (its BLAS, for threadpoolctl to see)
    import sklearn.ensemble  # noqa: F401  (scikit-learn's OpenMP runtime)

    pools = {pool["user_api"]: pool["num_threads"] for pool in threadpool_info()}
    return {"pid": os.getpid(), "itk": sitk.ProcessObject.GetGlobalDefaultNumberOfThreads(),
            "torch": torch.get_num_threads(), **pools}


def _record_threads(case: Case, part_file: Path, keyed) -> dict:
    return commit_case(case, part_file, "key", {}, lambda: {"threads": _threads_seen()}, 0.0)


def _run(tmp_path: Path, sample_case, n_cases: int, jobs: int, threads: int | None = None) -> list[dict]:
    image, mask = sample_case("breast1")
    cases = [Case(f"c{i}", image, mask) for i in range(n_cases)]
    parts = tmp_path / f"parts-{n_cases}-{jobs}-{threads}"
    parts.mkdir()
    process_cases(cases, parts, lambda case: ("key", {}), functools.partial(_record_threads),
                  CohortSummary(tmp_path / "t.csv"), jobs=jobs, threads=threads)
    return [json.loads(p.read_text())["threads"] for p in sorted(parts.glob("*.json"))]


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="needs two cores to tell one thread from two")
def test_the_runner_gives_each_case_its_share_of_the_jobs(tmp_path, sample_case):
    one_case, = _run(tmp_path, sample_case, 1, 2)
    assert one_case["pid"] == os.getpid()  # one case runs here, with the whole budget
    assert one_case["itk"] == 2 and one_case["openmp"] == 2 and one_case["blas"] == 2, one_case
    assert one_case["torch"] == 2, one_case
    serial, = _run(tmp_path, sample_case, 1, 1)
    assert serial["itk"] == 1 and serial["openmp"] == 1 and serial["blas"] == 1 and serial["torch"] == 1, serial
    parallel = _run(tmp_path, sample_case, 2, 2)  # a pool of two workers (a fast case may leave one idle)
    assert len(parallel) == 2 and os.getpid() not in {seen["pid"] for seen in parallel}
    assert all(seen["itk"] == 1 and seen["openmp"] == 1 and seen["blas"] == 1 and seen["torch"] == 1
               for seen in parallel), parallel
    # A torch step (deep-features, segment) on --jobs 1: its one process gives the network every core.
    torch_step = _run(tmp_path, sample_case, 2, 1, threads=2)
    assert {seen["pid"] for seen in torch_step} == {os.getpid()}
    assert all(seen["torch"] == 2 and seen["itk"] == 2 for seen in torch_step), torch_step
    # and the budget is given back after the run
    assert sitk.ProcessObject.GetGlobalDefaultNumberOfThreads() == _threads_seen()["itk"]


def test_a_thread_budget_holds_inside_and_is_given_back():
    before = _threads_seen()
    with thread_budget(1):
        inside = _threads_seen()
    assert inside["itk"] == 1 and all(inside[k] == 1 for k in ("openmp", "blas")), inside
    assert _threads_seen() == before


def test_modelling_fits_with_one_thread_per_process():
    """HistGradientBoosting's OpenMP threads beside the search's worker processes oversubscribed the cores:
    every fit of the search in this process sees one OpenMP thread."""
    import numpy as np
    import pandas as pd
    from RadiomicsWorkshopLib.modeling import pipeline
    from RadiomicsWorkshopLib.modeling.settings import ModelSettings

    seen = []
    from sklearn.ensemble import HistGradientBoostingClassifier

    class Observed(HistGradientBoostingClassifier):
        def fit(self, X, y, **kwargs):
            seen.append({p["user_api"]: p["num_threads"] for p in threadpool_info()}.get("openmp"))
            return super().fit(X, y, **kwargs)

    rng = np.random.default_rng(0)
    table = pd.DataFrame(rng.normal(size=(40, 6)), columns=[f"f{i}" for i in range(6)])
    table.insert(0, "case_id", [f"c{i}" for i in range(40)])
    table["outcome"] = np.arange(40) % 2
    data = pipeline.prepare_data(table, "outcome")
    settings = ModelSettings(classifier="gradient_boosting", selection="none", outer_folds=2, inner_folds=2,
                             bootstrap=10).check()
    search = pipeline._search(settings, data, jobs=1)
    search.estimator.steps[-1] = ("classifier", Observed(**{**search.estimator.steps[-1][1].get_params(),
                                                            "max_iter": 5}))
    pipeline._fit_search(search, data, "test")
    assert seen and set(seen) == {1}, seen


def test_the_default_of_jobs_is_radiomics_workshop_jobs_else_every_core():
    env = {k: v for k, v in os.environ.items() if k != "RADIOMICS_WORKSHOP_JOBS"}
    cores = len(os.sched_getaffinity(0))
    for command in ("train-cnn", "train-seg", "predict-cnn"):
        assert f"(default: {cores})" in " ".join(cli(command, "--help", env=env).stdout.split())
        shown = cli(command, "--help", env={**env, "RADIOMICS_WORKSHOP_JOBS": "3"}).stdout
        assert "(default: 3)" in " ".join(shown.split()), command
    done = cli("extract", "--image", "x.nrrd", "--mask", "y.nrrd", "--out", "z.csv", check=False,
               env={**env, "RADIOMICS_WORKSHOP_JOBS": "many"})
    assert done.returncode == 2 and "RADIOMICS_WORKSHOP_JOBS" in done.stderr and "'many'" in done.stderr, done.stderr
    done = cli("extract", "--image", "x.nrrd", "--mask", "y.nrrd", "--out", "z.csv", "--jobs", "0", check=False)
    assert done.returncode == 2 and "--jobs" in done.stderr and "at least 1" in done.stderr, done.stderr
