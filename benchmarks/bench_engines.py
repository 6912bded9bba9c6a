"""Our feature engine against PyRadiomics (and pictologics), in one run, one core, images in memory:

- the five PyRadiomics sample cases, bin width 25, PyRadiomics' default feature classes;
- (a) PyRadiomics 3.0.1; (b) our engine in PyRadiomics' convention (the same numbers: Testing/features/engine);
  (c) our engine in the IBSI convention (``workshop: convention: ibsi``; the original image only: that
  convention has no filters yet);
- the original image, then with LoG 1, 2, 3 mm and a level-1 wavelet;
- each figure the minimum of ``--repeat`` runs per case, summed over the cases; ratios a/b, a/c;
- the first extraction in a fresh Python (import and one case, brain1) for each: ours with an empty numba cache
  (compiling its kernels), then again with the cache it wrote;
- pictologics 0.9.0 in a Python 3.12 virtual environment the benchmark makes itself under
  ``.cache/bench/pictologics`` (``--no-pictologics`` skips it; it is skipped with a message where it cannot be
  made: no Python 3.12, no network to PyPI).

The issue's targets are printed beside the figures (met or not). Pass (a regression guard): our engine at
least 50x PyRadiomics on the original image and 20x with the filters.

    python benchmarks/bench_engines.py [--repeat 5] [--no-pictologics]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import CASES, REPO, case_paths

FILTERS = {"Original": {}, "LoG": {"sigma": [1.0, 2.0, 3.0]}, "Wavelet": {}}
TARGETS = {"original": 100.0, "filters": 150.0}
#: The regression guard (pass / fail), well under what a run measures (about 105x and 37x on this machine).
GUARD = {"original": 50.0, "filters": 20.0}
PICTOLOGICS = "pictologics==0.9.0"

FRESH = """
import sys, time
start = time.perf_counter()
sys.path.insert(0, {code!r})
import SimpleITK as sitk
image, mask = sitk.ReadImage({image!r}), sitk.ReadImage({mask!r})
if {engine!r} == "pyradiomics":
    import logging, radiomics
    from radiomics import featureextractor
    radiomics.setVerbosity(logging.ERROR)
    featureextractor.RadiomicsFeatureExtractor({params!r}).execute(image, mask)
else:
    from RadiomicsWorkshopLib.features.engine.extractor import Extractor
    Extractor({params!r}).execute(image, mask)
print(time.perf_counter() - start)
"""


def _params(image_types: dict, convention: str | None = None) -> dict:
    return {"imageType": image_types, "setting": {"binWidth": 25, "label": 1}}


def _ibsi_extract(image_types: dict):
    """Our engine in the IBSI convention: shape by the engine, first order and texture by the IBSI modules."""
    from RadiomicsWorkshopLib.features.extraction import extract_case_result
    from RadiomicsWorkshopLib.features.presets import params_from_dict

    params = params_from_dict({**_params(image_types), "workshop": {"convention": "ibsi", "engine": "ours"}})
    return lambda image, mask: extract_case_result(image, mask, params, case_id="bench")


def _timings(runs: dict, loaded: dict, repeat: int) -> dict[str, float]:
    totals = dict.fromkeys(runs, 0.0)
    for name, (image, mask) in loaded.items():
        for key, run in runs.items():
            run(image, mask)  # warm: first calls
            best = float("inf")
            for _ in range(repeat):
                start = time.perf_counter()
                run(image, mask)
                best = min(best, time.perf_counter() - start)
            totals[key] += best
            print(f"  {name:8s} {key:12s} {best * 1000:9.1f} ms", flush=True)
    return totals


def _fresh(engine: str, params: dict) -> tuple[float, float]:
    """(seconds with an empty numba cache: compiling our kernels, seconds with that cache: a later process)."""
    image, mask = case_paths("brain1")
    code = FRESH.format(code=str(REPO / "RadiomicsWorkshop"), image=str(image), mask=str(mask), engine=engine,
                        params=params)
    with tempfile.TemporaryDirectory() as cache:
        times = [float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                                      env={**os.environ, "NUMBA_CACHE_DIR": cache}).stdout.strip().splitlines()[-1])
                 for _ in range(2)]
    return times[0], times[1]


def _pictologics(repeat: int) -> dict | None:
    """pictologics' figures from its own environment, or None with a message."""
    folder = REPO / ".cache" / "bench" / "pictologics"
    python = folder / "bin" / "python"
    try:
        if not python.is_file():
            base = subprocess.run(["pyenv", "which", "python3.12"], capture_output=True, text=True)
            interpreter = base.stdout.strip() if base.returncode == 0 else "python3.12"
            subprocess.run([interpreter, "-m", "venv", str(folder)], check=True, capture_output=True)
            subprocess.run([str(python), "-m", "pip", "install", "-q", PICTOLOGICS, "SimpleITK"], check=True,
                           capture_output=True, timeout=1200)
        script = Path(__file__).with_name("pictologics_timing.py")
        cases = {name: [str(p) for p in case_paths(name)] for name in CASES}
        done = subprocess.run([str(python), str(script), json.dumps(cases), str(repeat)], capture_output=True,
                              text=True, timeout=3600)
        if done.returncode != 0:
            print(f"pictologics skipped: its run failed: {done.stderr.strip().splitlines()[-1:]}")
            return None
        return json.loads(done.stdout.strip().splitlines()[-1])
    except (OSError, subprocess.SubprocessError) as error:
        print(f"pictologics skipped: its environment could not be made ({error})")
        return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-pictologics", action="store_true")
    args = parser.parse_args()

    import radiomics
    import SimpleITK as sitk
    from radiomics import featureextractor
    from RadiomicsWorkshopLib.features.engine.extractor import Extractor
    from threadpoolctl import threadpool_limits

    radiomics.setVerbosity(logging.ERROR)
    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(1)
    loaded = {name: tuple(sitk.ReadImage(str(p)) for p in case_paths(name)) for name in CASES}
    results = {}
    with threadpool_limits(1):
        for label, image_types in (("original", {"Original": {}}), ("filters", FILTERS)):
            params = _params(image_types)
            runs = {"pyradiomics": featureextractor.RadiomicsFeatureExtractor(params).execute,
                    "ours": Extractor(params).execute}
            if label == "original":
                runs["ours (IBSI)"] = _ibsi_extract(image_types)
            print(f"{label}:")
            results[label] = _timings(runs, loaded, args.repeat)
    fresh = {engine: _fresh(engine, _params({"Original": {}})) for engine in ("pyradiomics", "ours")}
    pictologics = None if args.no_pictologics else _pictologics(args.repeat)

    print("\n| | PyRadiomics 3.0.1 | ours (PyRadiomics convention) | ours (IBSI convention) | pictologics 0.9.0 |")
    print("|---|---|---|---|---|")
    passed = True
    for label in ("original", "filters"):
        t = results[label]
        ratio = t["pyradiomics"] / t["ours"]
        ibsi = f"{t['ours (IBSI)'] * 1000:.0f} ms ({t['pyradiomics'] / t['ours (IBSI)']:.1f}x)" if "ours (IBSI)" in t else "n/a"
        picto = ""
        if pictologics and label in pictologics:
            picto = f"{pictologics[label] * 1000:.0f} ms ({t['pyradiomics'] / pictologics[label]:.0f}x)"
        met = "met" if ratio >= TARGETS[label] else "not met"
        print(f"| {label}, sum of 5 cases | {t['pyradiomics']:.2f} s | {t['ours'] * 1000:.0f} ms ({ratio:.1f}x; "
              f"target {TARGETS[label]:.0f}x: {met}) | {ibsi} | {picto} |")
        passed &= ratio >= GUARD[label]
    picto_fresh = f"{pictologics['fresh']:.1f} s" if pictologics and "fresh" in pictologics else ""
    compiled, cached = fresh["ours"]
    print(f"| first extraction, fresh Python | {fresh['pyradiomics'][0]:.2f} s | {compiled:.2f} s, compiling; "
          f"{cached:.2f} s from numba's cache (target <= 10 s: {'met' if compiled <= 10 else 'not met'}) | "
          f"| {picto_fresh} |")
    print("PASS" if passed else f"FAIL: our engine under its guard ({GUARD}, x PyRadiomics)")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
