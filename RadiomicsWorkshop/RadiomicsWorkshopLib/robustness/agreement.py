"""Agreement of each feature across repeated measurements (perturbations, readers, test-retest sessions):
the intraclass correlation coefficients ICC(1,1), ICC(2,1) and ICC(3,1) with their 95% confidence
intervals (Shrout & Fleiss 1979 / McGraw & Wong 1996, from pingouin's ``intraclass_corr``) and the overall
concordance correlation coefficient (Lin 1989, for several raters as Barnhart et al. 2002 write it).

A subject is a case's ROI (``case_id``, ``roi``); a rater is one repetition (``rater``). Subjects without
every repetition are left out of that feature (the ICC needs a complete design).
"""

from __future__ import annotations

import warnings
from typing import Iterable

import numpy as np
import pandas as pd

#: the ICCs reported: pingouin's type (0.7: one-way; two-way absolute agreement; two-way consistency, all
#: single measurement) -> our column prefix, Shrout & Fleiss' ICC(1,1), ICC(2,1), ICC(3,1)
ICC_TYPES = {"ICC(1,1)": "icc1", "ICC(A,1)": "icc2", "ICC(C,1)": "icc3"}


def concordance(wide: np.ndarray) -> float:
    """The overall CCC of a subjects x raters matrix: 2 sum_{j<k} s_jk / ((J-1) sum_j s_j^2 +
    sum_{j<k} (m_j - m_k)^2), with population (co)variances."""
    n, raters = wide.shape
    means = wide.mean(axis=0)
    covariance = np.cov(wide, rowvar=False, bias=True)
    pairs = [(j, k) for j in range(raters) for k in range(j + 1, raters)]
    numerator = 2 * sum(covariance[j, k] for j, k in pairs)
    denominator = (raters - 1) * np.trace(covariance) + sum((means[j] - means[k]) ** 2 for j, k in pairs)
    return float(numerator / denominator) if denominator > 0 else float("nan")


def feature_agreement(long: pd.DataFrame, feature: str, subject: str = "subject", rater: str = "rater") -> dict:
    """ICC(1,1), ICC(2,1), ICC(3,1) with 95% CIs and the CCC of one feature (long format)."""
    import pingouin

    wide = long.pivot_table(index=subject, columns=rater, values=feature, aggfunc="first").dropna()
    out = {"feature": feature, "subjects": int(len(wide)), "raters": int(wide.shape[1])}
    if len(wide) < 3 or wide.shape[1] < 2 or not np.isfinite(wide.to_numpy()).all() or wide.to_numpy().std() == 0:
        return {**out, **{f"{p}{s}": np.nan for p in ICC_TYPES.values() for s in ("", "_low", "_high")}, "ccc": np.nan}
    data = wide.stack().rename("value").reset_index()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = pingouin.intraclass_corr(data=data, targets=subject, raters=rater, ratings="value").set_index("Type")
    for kind, prefix in ICC_TYPES.items():
        low, high = table.loc[kind, "CI95"]  # pingouin rounds the bounds to 2 decimals
        out.update({prefix: float(table.loc[kind, "ICC"]), f"{prefix}_low": float(low), f"{prefix}_high": float(high)})
    out["ccc"] = concordance(wide.to_numpy(dtype=float))
    return out


def agreement_table(rows: pd.DataFrame, features: Iterable[str], rater: str = "rater",
                    subject_columns: tuple[str, ...] = ("case_id", "roi")) -> pd.DataFrame:
    """One row per feature: its ICCs with CIs and CCC, and its family (the column's class part)."""
    present = [c for c in subject_columns if c in rows.columns]
    long = rows.copy()
    long["subject"] = long[present].astype(str).agg("|".join, axis=1)
    found = [feature_agreement(long, f, "subject", rater) for f in features]
    table = pd.DataFrame(found)
    table.insert(1, "family", [family_of(f) for f in table["feature"]])
    return table


def family_of(column: str) -> str:
    """'original_glcm_Contrast' -> 'glcm'; 'log-sigma-1-0-mm-3D_firstorder_Mean' -> 'firstorder'."""
    parts = column.split("_")
    return parts[1] if len(parts) >= 3 else "other"


def passing(table: pd.DataFrame, threshold: float, icc: str = "icc1") -> pd.Series:
    """Whether each feature's ICC lower 95% bound reaches ``threshold``."""
    return table[f"{icc}_low"] >= threshold
