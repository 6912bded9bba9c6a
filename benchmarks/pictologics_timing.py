"""pictologics' side of bench_engines.py, run in its own Python 3.12 environment (it needs 3.12+):
``python pictologics_timing.py CASES_JSON REPEAT`` prints one JSON line: the seconds of the original image
(fixed bin size 25, intensity, morphology and texture features) and with LoG 1, 2, 3 mm and the eight
level-1 coif1 wavelet decompositions, each the minimum of REPEAT runs per case summed over the cases, and
``fresh``: a new process with an empty numba cache importing pictologics and extracting the first case
(its JIT compilation, what a user's first run costs). One thread, as the other engines.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time

FEATURES = {"step": "extract_features", "params": {"families": ["intensity", "morphology", "texture"]}}
# bins 25 wide on multiples of 25, as PyRadiomics puts them (every sample case lies above -1025)
DISCRETISE = {"step": "discretise", "params": {"method": "FBS", "bin_width": 25, "min_val": -1025}}


def fresh(image: str, mask: str) -> float:
    """Seconds from a new process's start to its first extraction, numba compiling into an empty cache."""
    code = ("import time; start = time.perf_counter(); import pictologics; from pictologics import "
            "RadiomicsPipeline, load_image; pictologics.set_num_threads(1); p = RadiomicsPipeline(load_standard=False); "
            f"p.add_config('original', [{DISCRETISE!r}, {FEATURES!r}]); "
            f"p.run(load_image({image!r}), load_image({mask!r}), config_names=['original']); "
            "print(time.perf_counter() - start)")
    with tempfile.TemporaryDirectory() as cache:
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                              env={**os.environ, "NUMBA_CACHE_DIR": cache})
    return float(done.stdout.strip().splitlines()[-1])


def main() -> int:
    cases, repeat = json.loads(sys.argv[1]), int(sys.argv[2])
    out = {"fresh": fresh(*next(iter(cases.values())))}
    import pictologics
    from pictologics import RadiomicsPipeline, load_image

    pictologics.set_num_threads(1)
    pipeline = RadiomicsPipeline(load_standard=False)
    pipeline.add_config("original", [DISCRETISE, FEATURES])
    filtered = []
    for sigma in (1.0, 2.0, 3.0):
        filtered.append(f"log{sigma}")
        pipeline.add_config(f"log{sigma}", [{"step": "filter", "params": {"type": "log", "sigma_mm": sigma}},
                                            DISCRETISE, FEATURES])
    for decomposition in ("LLH", "LHL", "LHH", "HLL", "HLH", "HHL", "HHH", "LLL"):
        filtered.append(decomposition)
        pipeline.add_config(decomposition, [{"step": "filter", "params": {
            "type": "wavelet", "wavelet": "coif1", "level": 1, "decomposition": decomposition}}, DISCRETISE, FEATURES])
    loaded = {name: (load_image(image), load_image(mask)) for name, (image, mask) in cases.items()}
    for label, names in (("original", ["original"]), ("filters", ["original", *filtered])):
        total = 0.0
        for image, mask in loaded.values():
            pipeline.run(image, mask, config_names=names)  # warm
            best = float("inf")
            for _ in range(repeat):
                start = time.perf_counter()
                pipeline.run(image, mask, config_names=names)
                best = min(best, time.perf_counter() - start)
            total += best
        out[label] = total
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
