"""The IBSI-1 reference data sets ``ibsi-check`` knows (and the names of its IBSI-2 checks): where each lies under the IBSI data folder, which
rows of which reference file are its values, and the shipped preset (and recipe) that reproduce it.
Apart from the check itself (``features.compliance``) so that the command line can name them cheaply."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Configuration:
    name: str  # as in the expected counts: "digital phantom", "A" ... "E"
    folder: str  # under the IBSI data folder
    reference: str  # the reference CSV, under the IBSI data folder
    data: str  # the reference CSV's "data" column for it
    preset: str
    recipe: str | None = None


CONFIGURATIONS = (
    Configuration("digital phantom", "digital_phantom", "digital_phantom_reference.csv", "dig. phantom", "IBSI"),
    Configuration("A", "ct_phantom", "ct_phantom_reference.csv", "config. A", "IBSI_CT_A"),
    Configuration("B", "ct_phantom", "ct_phantom_reference.csv", "config. B", "IBSI_CT_B", "IBSI_CT_B"),
    Configuration("C", "ct_phantom", "ct_phantom_reference.csv", "config. C", "IBSI_CT_C", "IBSI_CT_C"),
    # D: C's processing; D and E run where the reference file holds their values (the manual has them)
    Configuration("D", "ct_phantom", "ct_phantom_reference.csv", "config. D", "IBSI_CT_D", "IBSI_CT_C"),
    Configuration("E", "ct_phantom", "ct_phantom_reference.csv", "config. E", "IBSI_CT_E", "IBSI_CT_E"),
)
NAMES = tuple(c.name for c in CONFIGURATIONS)

#: IBSI-2 (the convolutional filters) as ibsi-check names them: phase 1 (the response maps) and the
#: phase-2 configurations 1.A ... 9.B (A: 2D, B: 3D), each a preset ``IBSI2_CT_<n><A|B>``
IBSI2_PHASE1 = "IBSI2-phase1"
IBSI2_PREFIX = "IBSI2-"
IBSI2_CONFIGURATIONS = tuple(f"{n}.{dimension}" for n in range(1, 10) for dimension in "AB")
IBSI2_NAMES = (IBSI2_PHASE1,) + tuple(IBSI2_PREFIX + c for c in IBSI2_CONFIGURATIONS)
