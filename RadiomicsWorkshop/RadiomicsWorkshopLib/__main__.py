"""``python -m RadiomicsWorkshopLib`` (what Slicer launches as ``PythonSlicer -m RadiomicsWorkshopLib``)."""

import sys

from RadiomicsWorkshopLib.cli import main

if __name__ == "__main__":
    sys.exit(main())
