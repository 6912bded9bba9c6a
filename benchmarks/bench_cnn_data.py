"""CNN training throughput: the data pipeline on (MONAI CacheDataset, DataLoader workers) vs a naive reload.

The cohort is the five PyRadiomics sample cases (MR and CT volumes of 256 x 256 x 25 to 512 x 512 x 61
voxels, compressed NRRD), each used ``--copies`` times under another case id, two classes alternating;
a 2D network (ResNet-10, width 16) trains on the 48 x 48 ROI-centred crops of every slice holding the
ROI, with augmentation, as ``train-cnn`` does (``cnn.network.fit_network``). Throughput is training images per
second of the training loop (what ``fit_network`` reports), over ``--epochs`` epochs:

- naive: ``cache=False, workers=0``: every item read from disk and cropped again, every epoch;
- cached: ``CacheDataset`` (each crop read once, before the first epoch; its time is printed apart and
  amortised over the epochs in the "with the cache's build" figure), ``workers=0``;
- cached + workers: the same with ``--workers`` DataLoader processes for the random transforms.

Prints each variant's images/s and the ratios to naive. Pass: the best pipeline >= 2x naive.

    python benchmarks/bench_cnn_data.py [--copies 4] [--epochs 3] [--workers 2]
"""

from __future__ import annotations

import argparse
import sys
import time

from common import CASES, case_paths

LIMIT = 2.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--copies", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    import numpy as np
    import torch
    from RadiomicsWorkshopLib.cnn.data import dataset, roi_slices
    from RadiomicsWorkshopLib.cnn.network import fit_network
    from RadiomicsWorkshopLib.cnn.settings import CnnSettings
    from RadiomicsWorkshopLib.cnn.workflow import CnnCohort, items_for
    from RadiomicsWorkshopLib.io.manifest import Case

    cases = []
    for copy in range(args.copies):
        for name in CASES:
            image, mask = case_paths(name)
            cases.append(Case(f"{name}-{copy}", image, mask))
    labels = np.array(["a" if i % 2 else "b" for i in range(len(cases))], dtype=object)
    slices = {case.case_id: roi_slices(case.mask, case.case_id) for case in cases}
    cohort = CnnCohort(cases, labels, np.array([c.case_id for c in cases], dtype=object), ["a", "b"], "label",
                       None, slices)
    base = dict(backbone="resnet10", width=16, crop=48, epochs=args.epochs, patience=args.epochs + 1, batch_size=32)
    rows = np.arange(len(cases))
    train, validation = items_for(cohort, rows[2:], CnnSettings(**base)), items_for(cohort, rows[:2], CnnSettings(**base))
    print(f"{len(cases)} cases, {len(train)} training images (ROI slices), {args.epochs} epochs, "
          f"torch threads {torch.get_num_threads()}")
    variants = [("naive (no cache, no workers)", dict(cache=False, workers=0)),
                ("cached", dict(cache=True, workers=0)),
                (f"cached + {args.workers} workers", dict(cache=True, workers=args.workers))]
    rates = {}
    for name, options in variants:
        settings = CnnSettings(**base, **options).check()
        start = time.perf_counter()
        build = 0.0
        if settings.cache:  # the cache's build, timed alone (fit_network builds it again: same work)
            dataset(train, settings, train=True)
            build = time.perf_counter() - start
        result = fit_network(train, validation, settings, 2, torch.device("cpu"), seed=0)
        with_build = len(train) * args.epochs / (len(train) * args.epochs / result.images_per_second + build)
        rates[name] = result.images_per_second
        print(f"{name:28s} {result.images_per_second:7.1f} images/s  (cache build {build:5.1f} s; with it, over "
              f"{args.epochs} epochs: {with_build:6.1f} images/s)")
    naive = rates[variants[0][0]]
    best = max(rates[name] for name, _ in variants[1:])
    for name, _ in variants[1:]:
        print(f"{name} / naive = {rates[name] / naive:.2f}")
    print(f"best pipeline / naive = {best / naive:.2f} (pass: >= {LIMIT})")
    ok = best / naive >= LIMIT
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
