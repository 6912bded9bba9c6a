"""Deep features: batched extraction over 100 ROIs against a per-slice loop, same model.

100 ROIs of 3 slices each, from PyRadiomics' sample cases (brain1, brain2,
lung2: the 3 central ROI slices of a case, repeated), 2D ResNet-18 type with
random weights, 224x224 inputs, in one run. Baseline: for every slice, crop,
resize and normalise that slice alone and run the network on it (batch of 1).
The loop runs the network as built (MONAI's ResNet-18, eval mode, a forward
hook on the pooling layer), as a user would write it. Ours: DeepFeatureExtractor
(input preparation once per ROI, on the slab around it, batches of
`--batch-size`, channels-last). Prints both absolute times (CPU, or the GPU with
--device cuda), the ratio (target >= 3; exit status 1 below it), and, as
information, the network alone at batch 1 and batched, which bounds what
batching can give on this device, and the opt-in bfloat16 path.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
from common import case_paths, timed

TARGET = 3.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rois", type=int, default=100)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()

    import SimpleITK as sitk
    import torch
    from RadiomicsWorkshopLib.deep.embeddings import DeepFeatureExtractor, build_model

    cases = []
    for name in ("brain1", "brain2", "lung2"):
        image, mask = (sitk.ReadImage(str(p)) for p in case_paths(name))
        z = np.nonzero(sitk.GetArrayViewFromImage(mask).sum(axis=(1, 2)))[0]
        middle = int(z[len(z) // 2])
        keep = sitk.Image(mask.GetSize(), mask.GetPixelID())
        keep.CopyInformation(mask)
        keep[:, :, middle - 1:middle + 2] = mask[:, :, middle - 1:middle + 2]  # three slices
        cases.append((image, keep))
    rois = [cases[i % len(cases)] for i in range(args.rois)]
    extractor = DeepFeatureExtractor("resnet18", "random", device=args.device, batch_size=args.batch_size)

    def batched():
        inputs = np.concatenate([extractor.slices_2d(image, mask, 1) for image, mask in rois])
        return extractor.embed(inputs)

    model = build_model("resnet18", "random").to(extractor.device)  # the same weights (seed 0)
    pooled = {}
    model.avgpool.register_forward_hook(lambda module, inputs, output: pooled.update(x=output.flatten(1)))

    def per_slice_loop():
        out = []
        for image, mask in rois:
            array = sitk.GetArrayViewFromImage(mask)
            for z in np.nonzero(array.sum(axis=(1, 2)))[0]:
                one = sitk.Image(mask)
                one[:, :, :] = 0
                one[:, :, int(z):int(z) + 1] = mask[:, :, int(z):int(z) + 1]
                with torch.inference_mode():
                    model(torch.from_numpy(extractor.slices_2d(image, one, 1)).to(extractor.device))
                    out.append(pooled["x"].cpu().numpy())
        return np.concatenate(out)

    batched()  # warm-up
    loop_seconds, reference = timed(per_slice_loop)
    batch_seconds, ours = timed(batched)
    assert reference.shape == ours.shape == (3 * args.rois, 512)
    ratio = loop_seconds / batch_seconds
    print(f"{args.rois} ROIs x 3 slices, resnet18 224x224, device {args.device}, torch threads "
          f"{torch.get_num_threads()}")
    print(f"per-slice loop: {loop_seconds:.1f} s   batched (batch {args.batch_size}): {batch_seconds:.1f} s   "
          f"ratio {ratio:.2f} (target >= {TARGET})")
    # Information: the network alone (no input preparation), batch 1 vs batched: the ceiling for batching.
    inputs = torch.from_numpy(np.concatenate([extractor.slices_2d(image, mask, 1) for image, mask in rois[:32]]))

    def network_only(batch_size: int):
        with torch.inference_mode():
            for start in range(0, len(inputs), batch_size):
                batch = inputs[start:start + batch_size].to(extractor.device)
                if batch_size > 1:
                    extractor.model(batch.contiguous(memory_format=torch.channels_last))
                else:
                    model(batch)

    one_seconds, _ = timed(network_only, 1)
    many_seconds, _ = timed(network_only, args.batch_size)
    print(f"network alone, {len(inputs)} inputs: batch 1 {1000 * one_seconds / len(inputs):.1f} ms/slice, "
          f"batch {args.batch_size} channels-last {1000 * many_seconds / len(inputs):.1f} ms/slice "
          f"(ratio {one_seconds / many_seconds:.2f})")
    # Information: the same batched path in bfloat16 (opt-in, --precision bfloat16), and how far it moves the features.
    extractor.precision = "bfloat16"
    bf16_seconds, bf16 = timed(batched)
    deviation = float(np.max(np.abs(bf16 - ours)) / np.max(np.abs(ours)))
    print(f"batched, bfloat16: {bf16_seconds:.1f} s   ratio {loop_seconds / bf16_seconds:.2f}   "
          f"largest deviation from float32 {deviation:.1e} (relative to the largest feature)")
    return 0 if ratio >= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
