"""IBSI-1 reference values and how our feature columns map onto them.

The mapping from an IBSI reference row (family, feature, aggregation) to our
column is data (``FEATURES``, ``AGGREGATIONS`` below); ``compare_to_reference``
checks a feature row against the IBSI digital-phantom consensus values, so the
test and the README's numbers come from one place.

Reference values without a tolerance are given to 3 significant digits: they
count as reproduced when ours rounds to the same value (within half a unit of
the third significant digit).
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Mapping

import pandas as pd

#: PyRadiomics class per IBSI family.
FAMILY_CLASS = {
    "Morphological features": "shape",
    "Intensity-based statistical features": "firstorder",
    "Intensity histogram features": "firstorder",
    "Grey level co-occurrence based features": "glcm",
    "Grey level run length based features": "glrlm",
    "Grey level size zone based features": "glszm",
    "Neighbourhood grey tone difference based features": "ngtdm",
    "Neighbouring grey level dependence based features": "gldm",
}

#: IBSI texture aggregation -> the image-type part of our column name (IBSI preset).
AGGREGATIONS = {
    None: "original",
    "3D, averaged": "original", "3D": "original",
    "3D, merged": "original-3D-merged",
    "2.5D, direction-merged": "original-2p5D-direction-merged", "2.5D": "original-2p5D-direction-merged",
    "2.5D, merged": "original-2p5D-merged",
    "2D, averaged": "original-2D-averaged", "2D": "original-2D-averaged",
    "2D, slice-merged": "original-2D-slice-merged",
}

# (family, IBSI feature name) -> (PyRadiomics feature, transform, note)
_HIST_NOTE = ("PyRadiomics computes it on the intensities; equal to the discretised-intensity feature when "
              "grey levels are already discrete (bin width 1, as on the phantom)")
FEATURES: dict[tuple[str, str], tuple[str, str | None, str | None]] = {}


def _add(family: str, pairs: dict[str, str | tuple[str, str | None, str | None]]) -> None:
    for ibsi_name, target in pairs.items():
        FEATURES[(family, ibsi_name)] = target if isinstance(target, tuple) else (target, None, None)


_add("Morphological features", {
    "Volume (mesh)": "MeshVolume", "Volume (voxel counting)": "VoxelVolume", "Surface area (mesh)": "SurfaceArea",
    "Surface to volume ratio": "SurfaceVolumeRatio", "Compactness 1": "Compactness1",
    "Compactness 2": "Compactness2", "Spherical disproportion": "SphericalDisproportion",
    "Sphericity": "Sphericity", "Maximum 3D diameter": "Maximum3DDiameter",
    "Major axis length": "MajorAxisLength", "Minor axis length": "MinorAxisLength",
    "Least axis length": "LeastAxisLength", "Elongation": "Elongation", "Flatness": "Flatness"})
_STATS = {
    "Mean intensity": "Mean", "Intensity variance": "Variance", "Intensity skewness": "Skewness",
    "(Excess) intensity kurtosis": ("Kurtosis", "minus3", "PyRadiomics reports kurtosis, IBSI excess kurtosis"),
    "Median intensity": "Median", "Minimum intensity": "Minimum",
    "10\\ :sup:`th` intensity percentile": "10Percentile", "90\\ :sup:`th` intensity percentile": "90Percentile",
    "Maximum intensity": "Maximum", "Intensity interquartile range": "InterquartileRange",
    "Intensity range": "Range", "Intensity-based mean absolute deviation": "MeanAbsoluteDeviation",
    "Intensity-based robust mean absolute deviation": "RobustMeanAbsoluteDeviation",
    "Intensity-based energy": "Energy", "Root mean square intensity": "RootMeanSquared"}
_add("Intensity-based statistical features", _STATS)
_add("Intensity histogram features", {
    "Mean discretised intensity": ("Mean", None, _HIST_NOTE),
    "Discretised intensity variance": ("Variance", None, _HIST_NOTE),
    "Discretised intensity skewness": ("Skewness", None, _HIST_NOTE),
    "(Excess) discretised intensity kurtosis": ("Kurtosis", "minus3", _HIST_NOTE),
    "Median discretised intensity": ("Median", None, _HIST_NOTE),
    "Minimum discretised intensity": ("Minimum", None, _HIST_NOTE),
    "10\\ :sup:`th` discretised intensity percentile": ("10Percentile", None, _HIST_NOTE),
    "90\\ :sup:`th` discretised intensity percentile": ("90Percentile", None, _HIST_NOTE),
    "Maximum discretised intensity": ("Maximum", None, _HIST_NOTE),
    "Discretised intensity interquartile range": ("InterquartileRange", None, _HIST_NOTE),
    "Discretised intensity range": ("Range", None, _HIST_NOTE),
    "Intensity histogram mean absolute deviation": ("MeanAbsoluteDeviation", None, _HIST_NOTE),
    "Intensity histogram robust mean absolute deviation": ("RobustMeanAbsoluteDeviation", None, _HIST_NOTE),
    "Discretised intensity entropy": "Entropy", "Discretised intensity uniformity": "Uniformity"})
_add("Grey level co-occurrence based features", {
    "Joint maximum": "MaximumProbability", "Joint average": "JointAverage", "Joint variance": "SumSquares",
    "Joint entropy": "JointEntropy", "Difference average": "DifferenceAverage",
    "Difference variance": "DifferenceVariance", "Difference entropy": "DifferenceEntropy",
    "Sum average": "SumAverage",
    "Sum variance": ("ClusterTendency", None, "IBSI's sum variance equals cluster tendency"),
    "Sum entropy": "SumEntropy", "Angular second moment": "JointEnergy", "Contrast": "Contrast",
    "Dissimilarity": ("DifferenceAverage", None, "IBSI's dissimilarity equals difference average"),
    "Inverse difference": "Id", "Normalised inverse difference": "Idn", "Inverse difference moment": "Idm",
    "Normalised inverse difference moment": "Idmn", "Inverse variance": "InverseVariance",
    "Correlation": "Correlation", "Autocorrelation": "Autocorrelation", "Cluster tendency": "ClusterTendency",
    "Cluster shade": "ClusterShade", "Cluster prominence": "ClusterProminence",
    "Information correlation 1": "Imc1", "Information correlation 2": "Imc2"})
_add("Grey level run length based features", {
    "Short runs emphasis": "ShortRunEmphasis", "Long runs emphasis": "LongRunEmphasis",
    "Low grey level run emphasis": "LowGrayLevelRunEmphasis", "High grey level run emphasis": "HighGrayLevelRunEmphasis",
    "Short run low grey level emphasis": "ShortRunLowGrayLevelEmphasis",
    "Short run high grey level emphasis": "ShortRunHighGrayLevelEmphasis",
    "Long run low grey level emphasis": "LongRunLowGrayLevelEmphasis",
    "Long run high grey level emphasis": "LongRunHighGrayLevelEmphasis",
    "Grey level non-uniformity": "GrayLevelNonUniformity",
    "Normalised grey level non-uniformity": "GrayLevelNonUniformityNormalized",
    "Run length non-uniformity": "RunLengthNonUniformity",
    "Normalised run length non-uniformity": "RunLengthNonUniformityNormalized", "Run percentage": "RunPercentage",
    "Grey level variance": "GrayLevelVariance", "Run length variance": "RunVariance", "Run entropy": "RunEntropy"})
_add("Grey level size zone based features", {
    "Small zone emphasis": "SmallAreaEmphasis", "Large zone emphasis": "LargeAreaEmphasis",
    "Low grey level zone emphasis": "LowGrayLevelZoneEmphasis", "High grey level zone emphasis": "HighGrayLevelZoneEmphasis",
    "Small zone low grey level emphasis": "SmallAreaLowGrayLevelEmphasis",
    "Small zone high grey level emphasis": "SmallAreaHighGrayLevelEmphasis",
    "Large zone low grey level emphasis": "LargeAreaLowGrayLevelEmphasis",
    "Large zone high grey level emphasis": "LargeAreaHighGrayLevelEmphasis",
    "Grey level non-uniformity": "GrayLevelNonUniformity",
    "Normalised grey level non-uniformity": "GrayLevelNonUniformityNormalized",
    "Zone size non-uniformity": "SizeZoneNonUniformity",
    "Normalised zone size non-uniformity": "SizeZoneNonUniformityNormalized", "Zone percentage": "ZonePercentage",
    "Grey level variance": "GrayLevelVariance", "Zone size variance": "ZoneVariance", "Zone size entropy": "ZoneEntropy"})
_add("Neighbourhood grey tone difference based features", {
    "Coarseness": "Coarseness", "Contrast": "Contrast", "Busyness": "Busyness", "Complexity": "Complexity",
    "Strength": "Strength"})
_add("Neighbouring grey level dependence based features", {
    "Low dependence emphasis": "SmallDependenceEmphasis", "High dependence emphasis": "LargeDependenceEmphasis",
    "Low grey level count emphasis": "LowGrayLevelEmphasis", "High grey level count emphasis": "HighGrayLevelEmphasis",
    "Low dependence low grey level emphasis": "SmallDependenceLowGrayLevelEmphasis",
    "Low dependence high grey level emphasis": "SmallDependenceHighGrayLevelEmphasis",
    "High dependence low grey level emphasis": "LargeDependenceLowGrayLevelEmphasis",
    "High dependence high grey level emphasis": "LargeDependenceHighGrayLevelEmphasis",
    "Grey level non-uniformity": "GrayLevelNonUniformity",
    "Dependence count non-uniformity": "DependenceNonUniformity",
    "Normalised dependence count non-uniformity": "DependenceNonUniformityNormalized",
    "Grey level variance": "GrayLevelVariance", "Dependence count variance": "DependenceVariance",
    "Dependence count entropy": "DependenceEntropy"})

TRANSFORMS = {None: lambda v: v, "minus3": lambda v: v - 3.0}


def default_reference_dir() -> Path:
    """``$RADIOMICS_WORKSHOP_IBSI_DIR``, else ``../shared/data/ibsi`` beside the repository."""
    env = os.environ.get("RADIOMICS_WORKSHOP_IBSI_DIR")
    return Path(env) if env else Path(__file__).resolve().parents[3] / "shared" / "data" / "ibsi"


def load_reference(folder: str | Path | None = None) -> pd.DataFrame:
    folder = Path(folder) if folder else default_reference_dir()
    frame = pd.read_csv(folder / "digital_phantom_reference.csv")
    frame["aggregation"] = frame["aggregation"].astype(object).where(frame["aggregation"].notna(), None)
    return frame


def column_for(family: str, feature: str, aggregation: str | None) -> tuple[str | None, str | None, str | None]:
    """Our column for one IBSI reference row, the transform to apply, and a note (None: not implemented)."""
    target = FEATURES.get((family, feature))
    if target is None:
        return None, None, "not computed by PyRadiomics (see issue: IBSI-complete feature set)"
    name, transform, note = target
    return f"{AGGREGATIONS[aggregation]}_{FAMILY_CLASS[family]}_{name}", transform, note


def _tolerance(reference: float, tolerance: float) -> float:
    if not math.isnan(tolerance):
        return tolerance
    if reference == 0:
        return 5e-4
    return 0.5 * 10 ** (math.floor(math.log10(abs(reference))) - 2)  # half a unit of the 3rd significant digit


def compare_to_reference(features: Mapping[str, float], reference: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per IBSI reference value: ours, the tolerance, whether it is reproduced."""
    reference = load_reference() if reference is None else reference
    rows = []
    for ref in reference.itertuples(index=False):
        column, transform, note = column_for(ref.family, ref.feature, ref.aggregation)
        ours = None
        if column is not None and column in features:
            ours = TRANSFORMS[transform](float(features[column]))
        tolerance = _tolerance(float(ref.value), float(ref.tolerance))
        rows.append({"family": ref.family, "feature": ref.feature, "ibsi_id": ref.ibsi_id,
                     "aggregation": ref.aggregation, "reference": ref.value, "tolerance": tolerance,
                     "column": column, "ours": ours, "implemented": column is not None,
                     "reproduced": ours is not None and abs(ours - ref.value) <= tolerance + 1e-12, "note": note})
    return pd.DataFrame(rows)


def summary_by_family(comparison: pd.DataFrame) -> pd.DataFrame:
    table = comparison.groupby("family", sort=False).agg(
        reference_values=("feature", "size"), implemented=("implemented", "sum"), reproduced=("reproduced", "sum"))
    table.loc["Total"] = table.sum()
    return table.astype(int)
