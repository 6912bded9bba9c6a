"""Running the command line as users (and Slicer) do: a separate process, `python -m RadiomicsWorkshopLib`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def cli(*args, check: bool = True, **kwargs) -> subprocess.CompletedProcess:
    """Run ``radiomics-workshop <args>``; with ``check``, a non-zero exit fails with the output shown."""
    done = subprocess.run([sys.executable, "-m", "RadiomicsWorkshopLib", *map(str, args)], capture_output=True,
                          text=True, **kwargs)
    if check and done.returncode != 0:
        raise AssertionError(f"exit {done.returncode}\n{done.stdout}\n{done.stderr}")
    return done


def write_untrained_bundle(folder: Path) -> Path:
    """A small segmentation bundle with seeded random weights: its label maps are arbitrary but fixed."""
    import torch
    from monai.networks.nets import UNet
    from RadiomicsWorkshopLib.segmentation.autoseg import write_bundle
    from RadiomicsWorkshopLib.segmentation.settings import SegSettings

    settings = SegSettings(spacing=(2.0, 2.0, 2.0), patch=(64, 64, 32), channels=(4, 8, 16, 32)).check()
    torch.manual_seed(0)
    network = UNet(spatial_dims=3, in_channels=1, out_channels=2, channels=settings.channels, strides=(2, 2, 2),
                   num_res_units=2, norm="batch")
    return write_bundle(folder, network.state_dict(), settings, 2, [], [1.0, 1.0, 1.0], 0)
