"""Testing/tools/ibsi_manual_reference.py: configurations D and E's reference values read from the IBSI
manual's feature tables, on an excerpt written here in the manual's own markup (the manual itself is not in
the repository): its number cells, the rows it finds, the check against the shared values and the D / E rows
it adds. Run on the whole manual it reproduces the shared A, B, C values exactly (docs/ibsi_phantom.md)."""

from __future__ import annotations

import pandas as pd
import pytest
from tools.ibsi_manual_reference import manual_rows, number, with_configurations

EXCERPT = r"""
Grey level co-occurrence based features
---------------------------------------

Joint maximum
^^^^^^^^^^^^^
.. raw:: html

  <p style="color:grey;font-style:italic;text-align:right">GYBY</p>

   | config. C    | 3D, averaged           | 0.111     | 0.002    | very strong   |
   | config. D    | 3D, averaged           | 0.232     | 0.007    | strong        |
   | config. E    | 3D, merged             | :math:`-`\ 49   | :math:`6 \times 10^{3}` | —  |

Volume (mesh)
^^^^^^^^^^^^^
.. raw:: html

  <p style="color:grey;font-style:italic;text-align:right">RNU0</p>

   | config. C    | :math:`3.67 \times 10^{5}` | :math:`6 \times 10^{3}` | strong      |
   | config. D    | :math:`3.68 \times 10^{5}` | —                       | strong      |
"""


def test_number_cells_in_the_manuals_markup():
    assert number("0.232") == 0.232 and number(":math:`-`\\ 49") == -49
    assert number(":math:`3.67 \\times 10^{5}`") == pytest.approx(3.67e5) and number(":math:`10^{-3}`") == 1e-3
    assert number("—") is None


def test_rows_ids_and_aggregations_of_the_excerpt():
    rows = manual_rows(EXCERPT)
    assert rows[["feature", "ibsi_id", "data", "aggregation"]].values.tolist() == [
        ["Joint maximum", "GYBY", "config. C", "3D, averaged"], ["Joint maximum", "GYBY", "config. D", "3D, averaged"],
        ["Joint maximum", "GYBY", "config. E", "3D, merged"], ["Volume (mesh)", "RNU0", "config. C", ""],
        ["Volume (mesh)", "RNU0", "config. D", ""]]
    assert rows["consensus"].tolist()[2] == "" and rows["tolerance"].tolist()[2] == 6000


def test_d_and_e_are_added_beside_c_and_a_misread_c_is_refused():
    shared = pd.DataFrame({
        "family": ["Grey level co-occurrence based features", "Morphological features"],
        "feature": ["Joint maximum", "Volume (mesh)"], "table_caption": ["", "volume (mesh)"],
        "ibsi_id": ["GYBY", "RNU0"], "data": ["config. C", "config. C"], "aggregation": ["3D, averaged", ""],
        "value": ["0.111", "367000.0"], "tolerance": ["0.002", "6000.0"], "consensus": ["very strong", "strong"]})
    table = with_configurations(shared, manual_rows(EXCERPT), names=("D",))
    added = table[table["data"] == "config. D"]
    assert added[["family", "table_caption", "value", "tolerance"]].values.tolist() == [
        ["Grey level co-occurrence based features", "", "0.232", "0.007"],
        ["Morphological features", "volume (mesh)", "368000.0", ""]]
    misread = shared.assign(value=["0.112", "367000.0"])
    with pytest.raises(ValueError, match="config. C values are not the shared file's"):
        with_configurations(misread, manual_rows(EXCERPT), names=("D",))
