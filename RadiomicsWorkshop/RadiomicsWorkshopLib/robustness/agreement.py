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

#: the ICCs reported: pingouin's type (0.6.1 and 0.7: one-way; two-way absolute agreement; two-way consistency, all
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


def subject_keys(frame: pd.DataFrame, columns: tuple[str, ...] = ("case_id", "roi")) -> pd.Series:
    """Each row's subject: its case and ROI, as 'case_id|roi'."""
    present = [c for c in columns if c in frame.columns]
    return frame[present].astype(str).agg("|".join, axis=1)


def agreement_table(rows: pd.DataFrame, features: Iterable[str], rater: str = "rater",
                    subject_columns: tuple[str, ...] = ("case_id", "roi")) -> pd.DataFrame:
    """One row per feature: its ICCs with CIs and CCC, and its family (the column's class part)."""
    long = rows.copy()
    long["subject"] = subject_keys(rows, subject_columns)
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


def icc1_bounds(cube: np.ndarray, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ICC(1,1) and its confidence interval for every feature at once, from a subjects x raters x features
    array (complete): Shrout & Fleiss' one-way formulas, MSB and MSW from the one-way ANOVA and the F
    distribution's quantiles, as pingouin computes them (``test_robustness`` holds the two equal). For the
    in-fold filter, which must compute them for every training fold."""
    from scipy.stats import f as f_distribution

    n, k = cube.shape[0], cube.shape[1]
    subject_means = cube.mean(axis=1)
    grand = subject_means.mean(axis=0)
    msb = k * ((subject_means - grand) ** 2).sum(axis=0) / (n - 1)
    msw = ((cube - subject_means[:, None, :]) ** 2).sum(axis=(0, 1)) / (n * (k - 1))
    with np.errstate(divide="ignore", invalid="ignore"):
        icc = (msb - msw) / (msb + (k - 1) * msw)
        ratio = msb / msw
        tail = 1 - (1 - confidence) / 2
        low_f = ratio / f_distribution.ppf(tail, n - 1, n * (k - 1))
        high_f = ratio * f_distribution.ppf(tail, n * (k - 1), n - 1)
        return icc, (low_f - 1) / (low_f + k - 1), (high_f - 1) / (high_f + k - 1)
