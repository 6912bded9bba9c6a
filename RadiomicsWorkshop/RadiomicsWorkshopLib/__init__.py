"""RadiomicsWorkshop core: the Slicer-free half of the RadiomicsWorkshop extension.

Everything computational lives here; the Slicer module only moves MRML nodes
to files and runs ``python -m RadiomicsWorkshopLib`` as a subprocess.
This package never imports slicer, qt, ctk, vtk or MRML, and importing it is
cheap (heavy libraries are imported by the modules that need them).
"""

__version__ = "0.1.0"
