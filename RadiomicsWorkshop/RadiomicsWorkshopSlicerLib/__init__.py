"""The Slicer layer's parts that need no Qt: they run in Slicer and, in the tests, without it.

- ``dependencies``: the Slicer versions supported and what the module installs into Slicer's Python,
  how, and under which constraints (standard library only; the Slicer-Python test lane runs it);
- ``nodes``: MRML nodes <-> the files the core reads and writes (Slicer's MRML and logic classes only;
  the slicer-core test lane runs it against Slicer's real code);
- ``processes``: ending a core run's whole process tree.

A package, not files beside RadiomicsWorkshop.py: Slicer loads every ``.py`` file of a module folder
as a scripted module (qSlicerScriptedLoadableModuleFactory::isValidFile accepts any ``.py``), so
helper code lives in a ``<Module>Lib``-style package, as in Slicer's own DataProbeLib or DICOMLib.
"""
