"""Performance of a classifier from its predicted probabilities, with patient-level bootstrap CIs.

Binary and multiclass. For two classes, sensitivity, specificity, PPV and NPV
are those of the positive class; for more, each is the mean over classes of
the one-vs-rest value (macro average) and the AUC is the one-vs-rest macro
AUC. The predicted class is the most probable one.

Confidence intervals (95%, percentile) come from a bootstrap over patients:
whole patients are resampled with replacement, with all their rows, because
the rows of one patient (slices, lesions) are not independent.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.metrics import confusion_matrix, roc_curve

METRICS = ["auc", "balanced_accuracy", "sensitivity", "specificity", "ppv", "npv", "f1", "brier"]
METRIC_NAMES = {"auc": "ROC AUC", "balanced_accuracy": "Balanced accuracy", "sensitivity": "Sensitivity",
                "specificity": "Specificity", "ppv": "PPV", "npv": "NPV", "f1": "F1", "brier": "Brier score"}
FPR_GRID = np.linspace(0.0, 1.0, 101)


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, numerator / np.maximum(denominator, 1), np.nan)


def point_metrics(y: np.ndarray, proba: np.ndarray, classes: list, positive=None) -> dict[str, float]:
    """The metrics of one set of predictions (``proba``: rows x classes, columns in ``classes`` order)."""
    classes = list(classes)
    return _metrics(_codes(np.asarray(y), classes), proba, 1 if positive is None else classes.index(positive))


def _auc(truth: np.ndarray, score: np.ndarray) -> float:
    """ROC AUC as the Mann-Whitney statistic (average ranks for ties): roc_auc_score's value, without its
    input validation, which dominated the bootstrap (thousands of calls)."""
    from scipy.stats import rankdata

    positives = int(truth.sum())
    negatives = truth.size - positives
    ranks = rankdata(score)
    return float((ranks[truth].sum() - positives * (positives + 1) / 2.0) / (positives * negatives))


def _sensitivity_on_grid(truth: np.ndarray, score: np.ndarray) -> np.ndarray:
    """The ROC curve's sensitivity at ``FPR_GRID`` (interpolated between its points, one per distinct score,
    as roc_curve gives them): the bootstrap's ROC band, without roc_curve's input validation."""
    order = np.argsort(-score, kind="mergesort")
    ordered, hits = score[order], truth[order]
    last = np.r_[np.flatnonzero(np.diff(ordered)), ordered.size - 1]  # the last row of every distinct score
    true_positives = np.cumsum(hits)[last]
    false_positives = last + 1 - true_positives
    fpr = np.r_[0.0, false_positives / false_positives[-1]]
    tpr = np.r_[0.0, true_positives / true_positives[-1]]
    return np.interp(FPR_GRID, fpr, tpr)


def _metrics(codes: np.ndarray, proba: np.ndarray, p: int) -> dict[str, float]:
    """Metrics from class codes (0..k-1); ``p``: the positive class's code when there are two.

    NumPy throughout (checked against scikit-learn's metrics in the tests): this runs once per bootstrap
    resample."""
    k = proba.shape[1]
    predicted = proba.argmax(axis=1)
    matrix = np.bincount(codes * k + predicted, minlength=k * k).reshape(k, k).astype(float)
    tp = np.diag(matrix)
    fn = matrix.sum(axis=1) - tp
    fp = matrix.sum(axis=0) - tp
    tn = matrix.sum() - tp - fn - fp
    sens, spec, ppv, npv = _ratio(tp, tp + fn), _ratio(tn, tn + fp), _ratio(tp, tp + fp), _ratio(tn, tn + fn)
    f1 = _ratio(2 * tp, 2 * tp + fp + fn)
    present = np.unique(codes)
    if k == 2:
        auc = _auc(codes == p, proba[:, p]) if len(present) == 2 else np.nan
        values = dict(sensitivity=sens[p], specificity=spec[p], ppv=ppv[p], npv=npv[p], f1=f1[p],
                      brier=float(np.mean((proba[:, p] - (codes == p)) ** 2)))
    else:  # one-vs-rest AUC of every class, unweighted mean (roc_auc_score's multi_class="ovr", macro)
        auc = float(np.mean([_auc(codes == i, proba[:, i]) for i in range(k)])) if len(present) == k else np.nan
        with np.errstate(all="ignore"):
            values = dict(sensitivity=np.nanmean(sens), specificity=np.nanmean(spec), ppv=np.nanmean(ppv),
                          npv=np.nanmean(npv), f1=np.nanmean(f1),
                          brier=float(np.mean(((proba - np.eye(k)[codes]) ** 2).sum(axis=1))))
    values["auc"] = auc
    # balanced accuracy: the mean recall over the classes present
    values["balanced_accuracy"] = float(np.mean(sens[present])) if len(present) > 1 else np.nan
    return {name: float(values[name]) for name in METRICS}


def _codes(y: np.ndarray, classes: list) -> np.ndarray:
    lookup = {c: i for i, c in enumerate(classes)}
    unknown = sorted({str(v) for v in y if v not in lookup})
    if unknown:
        raise ValueError(f"outcome value(s) {', '.join(unknown)} are not among the model's classes {classes}")
    return np.array([lookup[v] for v in y], dtype=int)


@dataclass
class Evaluation:
    """Point estimates, 95% CIs and the curves of one set of predictions."""

    n_rows: int
    n_patients: int
    metrics: dict[str, float]
    ci: dict[str, tuple[float, float]]
    confusion: list[list[int]]
    classes: list
    roc: dict  # binary: fpr, tpr, band (lo, hi on FPR_GRID); multiclass: per class fpr, tpr
    calibration: dict  # per class: predicted, observed
    decision_curve: dict | None  # binary: thresholds, model, treat_all

    def to_dict(self) -> dict:
        return {"n_rows": self.n_rows, "n_patients": self.n_patients, "metrics": self.metrics,
                "ci95": {k: list(v) for k, v in self.ci.items()}, "confusion_matrix": self.confusion,
                "classes": list(self.classes), "roc": self.roc, "calibration": self.calibration,
                "decision_curve": self.decision_curve}


def evaluate(y: np.ndarray, proba: np.ndarray, classes: list, groups: np.ndarray, *, positive=None,
             n_bootstrap: int = 1000, seed: int = 0) -> Evaluation:
    """Metrics with patient-bootstrap CIs, confusion matrix, ROC (with a CI band), calibration, decision curve."""
    y, groups = np.asarray(y), np.asarray(groups)
    classes = list(classes)
    codes = _codes(y, classes)
    p = 1 if positive is None else classes.index(positive)
    metrics = _metrics(codes, proba, p)
    binary = len(classes) == 2
    # Bootstrap over patients: resample whole patients with all their rows.
    patients, inverse = np.unique(groups, return_inverse=True)
    rows_of = [np.flatnonzero(inverse == i) for i in range(len(patients))]
    rng = np.random.default_rng(seed)
    samples, bands = [], []
    for _ in range(n_bootstrap):
        chosen = rng.integers(0, len(patients), len(patients))
        rows = np.concatenate([rows_of[i] for i in chosen])
        samples.append(list(_metrics(codes[rows], proba[rows], p).values()))
        if binary and len(np.unique(codes[rows])) == 2:
            bands.append(_sensitivity_on_grid(codes[rows] == p, proba[rows, p]))
    samples = np.array(samples) if samples else np.full((1, len(METRICS)), np.nan)
    ci = {}
    for j, name in enumerate(METRICS):
        column = samples[:, j][np.isfinite(samples[:, j])]
        ci[name] = (float(np.percentile(column, 2.5)), float(np.percentile(column, 97.5))) if column.size \
            else (float("nan"), float("nan"))
    confusion = confusion_matrix(codes, proba.argmax(axis=1), labels=list(range(len(classes)))).tolist()
    roc: dict = {}
    if binary and len(np.unique(codes)) == 2:
        fpr, tpr, _ = roc_curve(codes == p, proba[:, p])
        roc = {"fpr": fpr.tolist(), "tpr": tpr.tolist(), "grid": FPR_GRID.tolist()}
        if bands:
            roc["band_low"] = np.percentile(bands, 2.5, axis=0).tolist()
            roc["band_high"] = np.percentile(bands, 97.5, axis=0).tolist()
    elif not binary:
        for i, name in enumerate(classes):
            if 0 < (codes == i).sum() < len(codes):
                fpr, tpr, _ = roc_curve(codes == i, proba[:, i])
                roc[str(name)] = {"fpr": fpr.tolist(), "tpr": tpr.tolist()}
    calibration = {}
    for i in ([p] if binary else range(len(classes))):
        calibration[str(classes[i])] = calibration_points(codes == i, proba[:, i])
    decision = decision_curve(codes == p, proba[:, p]) if binary else None
    return Evaluation(len(y), len(patients), metrics, ci, confusion, classes, roc, calibration, decision)


def calibration_points(observed: np.ndarray, predicted: np.ndarray, bins: int = 10) -> dict:
    """Mean predicted probability and observed frequency per bin of equal width (empty bins left out)."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(predicted, edges[1:-1]), 0, bins - 1)
    points = {"predicted": [], "observed": [], "count": []}
    for b in range(bins):
        inside = which == b
        if inside.any():
            points["predicted"].append(float(predicted[inside].mean()))
            points["observed"].append(float(observed[inside].mean()))
            points["count"].append(int(inside.sum()))
    return points


def decision_curve(observed: np.ndarray, predicted: np.ndarray) -> dict:
    """Net benefit of treating when the predicted risk exceeds each threshold (Vickers & Elkin 2006)."""
    thresholds = np.round(np.arange(0.01, 1.0, 0.01), 2)
    n = len(observed)
    prevalence = observed.mean()
    odds = thresholds / (1 - thresholds)
    treated = predicted[None, :] >= thresholds[:, None]
    tp = (treated & observed[None, :]).sum(axis=1) / n
    fp = (treated & ~observed[None, :]).sum(axis=1) / n
    return {"thresholds": thresholds.tolist(), "model": (tp - fp * odds).tolist(),
            "treat_all": (prevalence - (1 - prevalence) * odds).tolist()}
