"""The IBSI-1 reference data sets ``ibsi-check`` knows: where each lies under the IBSI data folder, which
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
