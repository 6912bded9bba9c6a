"""What ``radiomics-workshop robustness`` writes beside its tables: a figure of each feature's ICC by
family with the threshold, and a short report section (Markdown) with the fraction of features passing."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .agreement import passing


def family_summary(table: pd.DataFrame, threshold: float, icc: str = "icc1") -> pd.DataFrame:
    """Per family: features, how many pass (ICC lower 95% bound >= threshold), the fraction, median ICC."""
    marked = table.assign(passes=passing(table, threshold, icc))
    summary = marked.groupby("family", sort=True).agg(features=("feature", "size"), passing=("passes", "sum"),
                                                      median_icc=(icc, "median"))
    summary["fraction_passing"] = summary["passing"] / summary["features"]
    return summary.reset_index()


def icc_figure(table: pd.DataFrame, threshold: float, path: Path, icc: str = "icc1", title: str = "") -> Path:
    """Each feature's ICC (dot) and its 95% interval, grouped by family, the threshold as a line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    families = sorted(table["family"].unique())
    figure, axis = plt.subplots(figsize=(max(6.0, 1.1 * len(families) + 2), 4.5))
    rng = np.random.default_rng(0)
    for position, family in enumerate(families):
        rows = table[table["family"] == family]
        x = position + rng.uniform(-0.3, 0.3, len(rows))
        ok = (rows[f"{icc}_low"] >= threshold).to_numpy()
        axis.vlines(x, rows[f"{icc}_low"], rows[f"{icc}_high"], colors=np.where(ok, "tab:green", "tab:red"),
                    alpha=0.25, linewidth=1)
        axis.scatter(x, rows[icc], s=8, c=np.where(ok, "tab:green", "tab:red"))
    axis.axhline(threshold, color="black", linestyle="--", linewidth=1, label=f"threshold {threshold}")
    axis.set_xticks(range(len(families)), families, rotation=30, ha="right")
    axis.set_ylabel(f"{icc.upper()} (dot) and 95% CI")
    axis.set_ylim(-0.2, 1.02)
    axis.set_title(title or "Feature robustness: green passes (lower bound at or above the threshold)")
    axis.legend(loc="lower left")
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)
    return path


def report_section(table: pd.DataFrame, threshold: float, what: str, icc: str = "icc1") -> str:
    summary = family_summary(table, threshold, icc)
    lines = [f"## Feature robustness", "", f"{what}. A feature passes when the lower bound of its "
             f"{icc.upper()}'s 95% confidence interval reaches {threshold}.", "",
             "| family | features | passing | fraction | median ICC |", "|---|---:|---:|---:|---:|"]
    for row in summary.itertuples():
        lines.append(f"| {row.family} | {row.features} | {row.passing} | {row.fraction_passing:.0%} | "
                     f"{row.median_icc:.2f} |")
    total, passed = int(summary["features"].sum()), int(summary["passing"].sum())
    lines += [f"| **all** | **{total}** | **{passed}** | **{passed / max(total, 1):.0%}** | |", ""]
    return "\n".join(lines)
