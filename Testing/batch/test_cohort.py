"""Cohort runs through the CLI: manifest in, table + provenance + failures out;
parallel equals serial; an interrupted run resumes; outputs are never
silently overwritten."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk
from clitools import cli

PARAMS = "imageType: {Original: {}}\nfeatureClass: {shape: [], firstorder: [], glcm: [], glrlm: []}\n" \
         "setting: {binWidth: 25}\n"


@pytest.fixture()
def cohort(tmp_path, data_dir):
    """Ten cases: the five sample cases twice (distinct case ids), manifest paths relative."""
    (tmp_path / "params.yaml").write_text(PARAMS)
    lines = ["case_id,image,mask,patient_id,label"]
    for repeat in range(2):
        for i, name in enumerate(["brain1", "brain2", "breast1", "lung1", "lung2"]):
            rel = os.path.relpath(data_dir, tmp_path)
            lines.append(f"{name}-{repeat},{rel}/{name}_image.nrrd,{rel}/{name}_label.nrrd,P{i},{i % 2}")
    (tmp_path / "manifest.csv").write_text("\n".join(lines) + "\n")
    return tmp_path


def test_manifest_cohort_table_provenance_and_jsonl(cohort):
    out = cohort / "features.parquet"
    done = cli("extract", "--manifest", cohort / "manifest.csv", "--params", cohort / "params.yaml",
               "--out", out, "--jobs", "2", "--progress", "jsonl")
    events = [json.loads(line) for line in done.stdout.splitlines()]
    progress = [e for e in events if e["event"] == "progress"]
    assert progress[0]["total"] == 10 and progress[-1]["done"] == 10
    assert events[-1]["event"] == "result" and events[-1]["path"] == str(out)
    table = pd.read_parquet(out)
    assert len(table) == 10 and table["case_id"].is_unique
    assert list(table.columns[:3]) == ["case_id", "roi", "patient_id"]
    features = table.drop(columns=["case_id", "roi", "patient_id"])
    assert all(dtype.kind == "f" for dtype in features.dtypes), "numbers are numbers"
    # The same image twice gives the same numbers.
    first = table.set_index("case_id").drop(columns=["roi"])
    pd.testing.assert_series_equal(first.loc["lung2-0"], first.loc["lung2-1"], check_names=False)
    provenance = json.loads((cohort / "features.provenance.json").read_text())
    assert provenance["versions"]["pyradiomics"] == "3.0.1"
    assert provenance["settings"]["pyradiomics"]["setting"]["binWidth"] == 25
    case = provenance["cases"]["brain1-0"]
    assert len(case["hashes"]["image"]) == 64 and case["seconds"] > 0
    assert case["info"]["rois"]["1"]["voxels"] == int(table.loc[table.case_id == "brain1-0",
                                                                "original_shape_VoxelVolume"].iloc[0] /
                                                      np.prod(sitk.ReadImage(case["image"]).GetSpacing()) + 0.5)
    assert provenance["failures"] == []


def test_parallel_equals_serial(cohort):
    cli("extract", "--manifest", cohort / "manifest.csv", "--params", cohort / "params.yaml",
        "--out", cohort / "serial.csv", "--jobs", "1")
    cli("extract", "--manifest", cohort / "manifest.csv", "--params", cohort / "params.yaml",
        "--out", cohort / "parallel.csv", "--jobs", "2")
    pd.testing.assert_frame_equal(pd.read_csv(cohort / "serial.csv"), pd.read_csv(cohort / "parallel.csv"))


def _part_files(table: Path) -> dict[str, int]:
    parts = table.with_name(table.name + ".parts")
    return {p.name: p.stat().st_mtime_ns for p in parts.glob("*.json") if p.name != "run.json"} \
        if parts.exists() else {}


@pytest.mark.parametrize("jobs", [1, 2])
def test_killed_run_resumes_with_every_case_once(cohort, jobs):
    out = cohort / "features.csv"
    args = [sys.executable, "-m", "RadiomicsWorkshopLib", "extract", "--manifest", cohort / "manifest.csv",
            "--params", cohort / "params.yaml", "--out", out, "--jobs", str(jobs), "--progress", "none"]
    process = subprocess.Popen([str(a) for a in args], start_new_session=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while len(_part_files(out)) < 3 and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    before = _part_files(out)
    assert 3 <= len(before) < 10, f"kill came too late to test resuming ({len(before)} cases done)"
    assert not out.exists(), "the table is assembled only at the end"
    done = cli(*args[3:])
    table = pd.read_csv(out)
    assert sorted(table["case_id"]) == sorted(pd.read_csv(cohort / "manifest.csv")["case_id"])
    assert table["case_id"].is_unique
    after = _part_files(out)
    assert {k: after[k] for k in before} == before, "cases finished before the kill were not recomputed"
    assert f"{len(before)} already done" in done.stderr


def test_rerun_skips_and_existing_output_is_protected(cohort):
    out = cohort / "features.csv"
    base = ["extract", "--manifest", cohort / "manifest.csv", "--out", out]
    cli(*base, "--params", cohort / "params.yaml")
    first = out.read_bytes()
    again = cli(*base, "--params", cohort / "params.yaml")
    assert "0 computed, 10 already done" in again.stderr and out.read_bytes() == first
    other = cli(*base, "--preset", "MR", check=False)  # other settings, same output
    assert other.returncode == 2 and "--overwrite" in other.stderr and out.read_bytes() == first
    # A changed input is recomputed; the others are not.
    manifest = pd.read_csv(cohort / "manifest.csv")
    manifest.loc[0, "mask"] = manifest.loc[1, "mask"]
    manifest.loc[0, "image"] = manifest.loc[1, "image"]
    manifest.to_csv(cohort / "manifest.csv", index=False)
    changed = cli(*base, "--params", cohort / "params.yaml")
    assert "1 computed, 9 already done" in changed.stderr
    plain = cohort / "plain.csv"
    plain.write_text("keep me\n")
    refused = cli("extract", "--manifest", cohort / "manifest.csv", "--params", cohort / "params.yaml",
                  "--out", plain, check=False)
    assert refused.returncode == 2 and plain.read_text() == "keep me\n"
    cli("extract", "--manifest", cohort / "manifest.csv", "--params", cohort / "params.yaml", "--out", plain,
        "--overwrite")
    assert len(pd.read_csv(plain)) == 10


def test_two_dimensional_data_set_keeps_patient_id(tmp_path, data_dir):
    """A 2D data set: each image one slice (2D file), several slices per patient."""
    lines = ["case_id,image,mask,patient_id"]
    for name in ["brain1", "lung2"]:
        image = sitk.ReadImage(str(data_dir / f"{name}_image.nrrd"))
        mask = sitk.ReadImage(str(data_dir / f"{name}_label.nrrd"))
        for k in np.nonzero(sitk.GetArrayViewFromImage(mask).sum(axis=(1, 2)) > 20)[0][:3]:
            sitk.WriteImage(image[:, :, int(k)], str(tmp_path / f"{name}_{k}_image.nrrd"))
            sitk.WriteImage(mask[:, :, int(k)], str(tmp_path / f"{name}_{k}_label.nrrd"))
            lines.append(f"{name}_{k},{name}_{k}_image.nrrd,{name}_{k}_label.nrrd,{name}")
    (tmp_path / "slices.csv").write_text("\n".join(lines) + "\n")
    cli("extract", "--manifest", tmp_path / "slices.csv", "--preset", "MR_2D", "--out", tmp_path / "f.csv")
    table = pd.read_csv(tmp_path / "f.csv")
    assert len(table) == len(lines) - 1
    assert list(table["patient_id"]) == [line.split(",")[3] for line in lines[1:]]
    for row in table.itertuples():  # each slice's own ROI: its pixels times the pixel area
        mask = sitk.ReadImage(str(tmp_path / f"{row.case_id}_label.nrrd"))
        pixels = int(np.count_nonzero(sitk.GetArrayViewFromImage(mask) == 1))
        assert row.original_shape2D_PixelSurface == pytest.approx(pixels * np.prod(mask.GetSpacing())), row.case_id


def test_help_imports_nothing_heavy():
    """`radiomics-workshop --help` must answer at once: no numpy/SimpleITK/PyRadiomics/torch at start-up."""
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "RadiomicsWorkshopLib", "--help"],
                          capture_output=True, text=True)
    assert done.returncode == 0 and "extract" in done.stdout
    imported = {line.split("|")[-1].strip().split(".")[0] for line in done.stderr.splitlines() if "|" in line}
    heavy = {"numpy", "SimpleITK", "radiomics", "torch", "monai", "pandas", "scipy", "dask"}
    assert not imported & heavy, f"--help imports {imported & heavy}"


ASSEMBLY_PEAKS = """
import json, sys, tracemalloc
import pyarrow as pa
from RadiomicsWorkshopLib.batch.extract import run_cohort
from RadiomicsWorkshopLib.features.presets import params_from_dict
from RadiomicsWorkshopLib.io.manifest import read_manifest
cases, params = read_manifest(sys.argv[1]), params_from_dict(json.loads(sys.argv[3]))
tracemalloc.start()
summary = run_cohort(cases, params, sys.argv[2])
python_peak = tracemalloc.get_traced_memory()[1]
print(json.dumps({"python": python_peak, "arrow": pa.default_memory_pool().max_memory() or 0,
                  "skipped": summary.skipped, "done": summary.done}))
"""


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_the_table_is_assembled_one_case_at_a_time(tmp_path, data_dir, suffix):
    """The table of a large cohort is written case by case: the assembly's peak memory does not grow with
    the number of cases. An 890-feature case is extracted once; the large cohort is that case's commit
    copied under new case ids and keys (a resumed run whose every case is done), then assembled."""
    from RadiomicsWorkshopLib.batch.extract import run_cohort
    from RadiomicsWorkshopLib.batch.runner import case_key, parts_dir
    from RadiomicsWorkshopLib.batch.runner import safe_name as _safe
    from RadiomicsWorkshopLib.features.presets import params_from_dict
    from RadiomicsWorkshopLib.io.manifest import Case

    settings = {"imageType": {"Original": {}, "LoG": {"sigma": [1.0, 2.0, 3.0]}, "Wavelet": {}},
                "featureClass": {"firstorder": [], "glcm": [], "glrlm": [], "glszm": []}, "setting": {"binWidth": 25}}
    params = params_from_dict(settings)
    image, mask = data_dir / "brain1_image.nrrd", data_dir / "brain1_label.nrrd"
    seed = tmp_path / f"seed{suffix}"
    run_cohort([Case("c0000", image, mask)], params, seed)
    record = json.loads((parts_dir(seed) / f"{_safe('c0000')}.json").read_text())
    assert len(record["rows"][0]) > 800

    def assemble(n: int) -> tuple[dict, pd.DataFrame]:
        out = tmp_path / f"n{n}{suffix}"
        cases = [Case(f"c{i:04d}", image, mask) for i in range(n)]
        run_cohort(cases[:1], params, out)  # the run.json of these settings
        for case in cases[1:]:
            record.update(key=case_key(case, params.digest(), False)[0], case_id=case.case_id)
            record["rows"][0]["case_id"] = case.case_id
            (parts_dir(out) / f"{_safe(case.case_id)}.json").write_text(json.dumps(record))
        (tmp_path / f"n{n}.csv").write_text("case_id,image,mask\n" + "".join(
            f"{c.case_id},{image},{mask}\n" for c in cases))
        # A fresh process per assembly: Python's allocations (tracemalloc) and Arrow's memory pool (which
        # tracemalloc does not see), each measured from that process's start.
        done = subprocess.run([sys.executable, "-c", ASSEMBLY_PEAKS, str(tmp_path / f"n{n}.csv"), str(out),
                               json.dumps(settings)],
                              capture_output=True, text=True, check=True,
                              env={**os.environ, "PYTHONPATH": os.pathsep.join(
                                  [str(Path(__file__).resolve().parents[2] / "RadiomicsWorkshop"),
                                   os.environ.get("PYTHONPATH", "")])})
        peaks = json.loads(done.stdout.splitlines()[-1])
        assert peaks["skipped"] == n and peaks["done"] == 0
        return peaks, pd.read_parquet(out) if suffix == ".parquet" else pd.read_csv(out)

    small_peak, small = assemble(40)
    large_peak, large = assemble(400)
    assert len(large) == 400 and list(large["case_id"]) == [f"c{i:04d}" for i in range(400)]
    pd.testing.assert_frame_equal(large.iloc[:1], small.iloc[:1])
    for kind in ("python", "arrow"):
        assert large_peak[kind] < 2 * small_peak[kind] + 0.5e6, (
            f"{kind} peak {large_peak[kind] / 1e6:.1f} MB for 400 cases, {small_peak[kind] / 1e6:.1f} MB for 40: "
            "the table is held in memory")


def test_failed_cases_are_kept_until_retry_failed(cohort):
    """A case that failed on its own inputs stays failed on a plain rerun (it is done, its failure recorded:
    rerunning cannot change a deterministic failure); --retry-failed runs it again. Cases that failed outside
    their task (timed out, a worker died) are retried on every run: they have no key yet."""
    manifest = pd.read_csv(cohort / "manifest.csv").iloc[:2].assign(roi=["1", "7"])  # the 2nd: no label 7
    manifest.to_csv(cohort / "two.csv", index=False)
    out = cohort / "features.csv"
    args = ["extract", "--manifest", cohort / "two.csv", "--params", cohort / "params.yaml", "--out", out]
    first = cli(*args, check=False)
    assert first.returncode == 1 and "1 failed" in first.stderr and "label 7 not in the mask" in first.stderr
    plain = cli(*args, check=False)
    assert plain.returncode == 1 and "0 computed, 2 already done" in plain.stderr, plain.stderr
    retried = cli(*args, "--retry-failed", check=False)
    assert retried.returncode == 1 and "1 computed, 1 already done, 1 failed" in retried.stderr, retried.stderr
    timed_out = cli(*args, "--timeout", "0.001", "--overwrite", check=False)
    assert "2 failed" in timed_out.stderr and "timed out" in timed_out.stderr
    again = cli(*args, check=False)
    assert "2 computed, 0 already done, 1 failed" in again.stderr, again.stderr
