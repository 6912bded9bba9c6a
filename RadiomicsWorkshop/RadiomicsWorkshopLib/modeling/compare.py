"""Models compared on the same patients: radiomics, deep features, radiomics + deep, an end-to-end CNN.

Every model folder (``train`` or ``train-cnn``) holds its out-of-fold predictions (one row per case) and
its fold assignment. :func:`compare_models` checks that the models were validated on the same cases and
the same patient-grouped folds (otherwise the comparison would mix chance with the models' differences),
evaluates each on those cases with the same patient-bootstrap resamples (paired CIs), and tests every
pair of AUCs with DeLong's test for correlated ROC curves (DeLong et al. 1988; the fast algorithm of Sun &
Xu 2014).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..io.errors import InputError


def delong(truth: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """AUCs of ``scores`` (models x cases) for the binary ``truth`` and their DeLong covariance matrix."""
    from scipy.stats import rankdata

    truth = np.asarray(truth, dtype=bool)
    scores = np.atleast_2d(np.asarray(scores, dtype=float))
    positives, negatives = scores[:, truth], scores[:, ~truth]
    m, n = positives.shape[1], negatives.shape[1]
    if m < 2 or n < 2:
        raise InputError(f"DeLong's test needs at least 2 cases of each class ({m} positive, {n} negative)")
    within_positive = rankdata(positives, axis=1)
    within_negative = rankdata(negatives, axis=1)
    overall = rankdata(np.concatenate([positives, negatives], axis=1), axis=1)
    aucs = (overall[:, :m].sum(axis=1) / m - (m + 1) / 2.0) / n
    v_positive = (overall[:, :m] - within_positive) / n  # placement of each positive among the negatives
    v_negative = 1.0 - (overall[:, m:] - within_negative) / m  # of each negative among the positives
    covariance = np.atleast_2d(np.cov(v_positive)) / m + np.atleast_2d(np.cov(v_negative)) / n
    return aucs, covariance


def delong_test(truth: np.ndarray, first: np.ndarray, second: np.ndarray) -> dict[str, float]:
    """Paired DeLong test of two AUCs on the same cases: difference, its standard error, z and two-sided p."""
    from scipy.stats import norm

    aucs, cov = delong(truth, np.vstack([first, second]))
    variance = cov[0, 0] + cov[1, 1] - 2 * cov[0, 1]
    difference = float(aucs[0] - aucs[1])
    if variance <= 0:
        z, p = (0.0, 1.0) if difference == 0 else (float("inf") * np.sign(difference), 0.0)
    else:
        z = difference / np.sqrt(variance)
        p = float(2 * norm.sf(abs(z)))
    return {"auc_a": float(aucs[0]), "auc_b": float(aucs[1]), "difference": difference,
            "se": float(np.sqrt(max(variance, 0.0))), "z": float(z), "p": p}


@dataclass
class ModelPredictions:
    name: str
    folder: Path
    kind: str  # radiomics or cnn
    card: dict
    predictions: pd.DataFrame  # one row per case
    folds: pd.DataFrame  # group, fold


def read_model(folder: str | Path, name: str | None = None) -> ModelPredictions:
    """A trained model folder of either kind, with its out-of-fold predictions and fold assignment."""
    from ..io.tables import read_json

    folder = Path(folder)
    card_file = folder / "card.json"
    if not card_file.is_file():
        raise InputError("not a model folder (no card.json)", file=folder,
                         hint="give folders written by `radiomics-workshop train` or `train-cnn`")
    card = read_json(card_file)
    for file in ("predictions.csv", "folds.csv"):
        if not (folder / file).is_file():
            raise InputError(f"the model folder has no {file}", file=folder, hint="train the model again")
    predictions = pd.read_csv(folder / "predictions.csv", dtype={"case_id": str})
    if predictions["case_id"].duplicated().any():
        raise InputError("the model's predictions have several rows per case (ROIs or slices)",
                         file=folder / "predictions.csv",
                         hint="compare models trained on one row per case (one ROI), or aggregate per case first")
    folds = pd.read_csv(folder / "folds.csv", dtype={"group": str})
    return ModelPredictions(name or folder.name, folder, card.get("kind", "radiomics"), card, predictions, folds)


@dataclass
class Comparison:
    names: list[str]
    kinds: list[str]
    outcome: str
    positive: str | None
    cases: int
    patients: int
    evaluations: dict[str, dict]  # name -> Evaluation.to_dict()
    tests: list[dict] = field(default_factory=list)  # DeLong, one per pair
    note: str = ""

    def metrics_table(self) -> pd.DataFrame:
        from .metrics import METRICS

        rows = []
        for name, kind in zip(self.names, self.kinds):
            evaluation = self.evaluations[name]
            row = {"model": name, "kind": kind}
            for metric in METRICS:
                row[metric] = evaluation["metrics"][metric]
                row[f"{metric}_ci95_low"], row[f"{metric}_ci95_high"] = evaluation["ci95"][metric]
            rows.append(row)
        return pd.DataFrame(rows)

    def tests_table(self) -> pd.DataFrame:
        return pd.DataFrame(self.tests, columns=["model_a", "model_b", "auc_a", "auc_b", "difference", "se", "z", "p"])

    def to_dict(self) -> dict:
        return {"names": self.names, "kinds": self.kinds, "outcome": self.outcome, "positive": self.positive,
                "cases": self.cases, "patients": self.patients, "evaluations": self.evaluations,
                "tests": self.tests, "note": self.note}


def compare_models(folders: list[str | Path], names: list[str] | None = None, *, bootstrap: int = 1000,
                   seed: int = 0) -> Comparison:
    """Evaluate models on the same cases and folds; paired DeLong tests between every pair (binary outcomes)."""
    from .metrics import evaluate

    if len(folders) < 2:
        raise InputError("a comparison needs at least two model folders")
    names = list(names) if names else []
    models = [read_model(f, names[i] if i < len(names) else None) for i, f in enumerate(folders)]
    seen: dict[str, int] = {}
    for model in models:  # unique names for the table
        seen[model.name] = seen.get(model.name, 0) + 1
        if seen[model.name] > 1:
            model.name = f"{model.name} ({seen[model.name]})"
    first = models[0]
    outcome, classes = first.card["outcome"], list(map(str, first.card["classes"]))
    positive = first.card.get("positive_class")
    for model in models[1:]:
        if model.card["outcome"] != outcome or list(map(str, model.card["classes"])) != classes:
            raise InputError(f"model '{model.name}' predicts {model.card['outcome']} "
                             f"({', '.join(map(str, model.card['classes']))}), '{first.name}' {outcome} "
                             f"({', '.join(classes)})", file=model.folder, hint="compare models of the same outcome")
        reference = dict(zip(first.folds["group"], first.folds["fold"]))
        other = dict(zip(model.folds["group"], model.folds["fold"]))
        if reference != other:
            differing = sorted(g for g in set(reference) | set(other) if reference.get(g) != other.get(g))
            raise InputError(f"model '{model.name}' was validated on other folds than '{first.name}' "
                             f"({len(differing)} patient(s) differ, e.g. {', '.join(differing[:3])})",
                             file=model.folder / "folds.csv",
                             hint=f"train it again with --folds {first.folder / 'folds.csv'}")
        missing = sorted(set(first.predictions["case_id"]) ^ set(model.predictions["case_id"]))
        if missing:
            raise InputError(f"models '{first.name}' and '{model.name}' were validated on different cases "
                             f"({len(missing)} differ, e.g. {', '.join(missing[:3])})", file=model.folder,
                             hint="train them on the same cases")
    order = first.predictions["case_id"].tolist()
    aligned = [m.predictions.set_index("case_id").loc[order] for m in models]
    truth = aligned[0][outcome].astype(str).to_numpy()
    for model, frame in zip(models, aligned):
        if not np.array_equal(frame[outcome].astype(str).to_numpy(), truth):
            raise InputError(f"model '{model.name}' has other outcome values for the same cases", file=model.folder)
    group_column = next((c for c in ("patient_id", first.card.get("group_column")) if c and c in aligned[0].columns),
                        None)
    groups = aligned[0][group_column].astype(str).to_numpy() if group_column else np.asarray(order, dtype=str)
    evaluations, probabilities = {}, {}
    for model, frame in zip(models, aligned):
        proba = frame[[f"probability_{c}" for c in classes]].to_numpy(dtype=float)
        probabilities[model.name] = proba
        # the same seed: every model is evaluated on the same bootstrap resamples of patients
        evaluations[model.name] = evaluate(truth, proba, classes, groups, positive=positive, n_bootstrap=bootstrap,
                                           seed=seed).to_dict()
    tests, note = [], ""
    if len(classes) == 2:
        p = classes.index(positive) if positive in classes else 1
        for i, a in enumerate(models):
            for b in models[i + 1:]:
                result = delong_test(truth == classes[p], probabilities[a.name][:, p], probabilities[b.name][:, p])
                tests.append({"model_a": a.name, "model_b": b.name, **result})
    else:
        note = "DeLong's test compares binary AUCs; this outcome has several classes (macro averages shown)"
    return Comparison([m.name for m in models], [m.kind for m in models], outcome, positive, len(order),
                      len(set(groups)), evaluations, tests, note)


def write_comparison_tables(comparison: Comparison, folder: str | Path) -> list[Path]:
    """comparison.csv (metrics with CIs per model) and comparison_delong.csv (pairwise tests)."""
    from ..io.tables import write_table

    folder = Path(folder)
    written = [folder / "comparison.csv"]
    write_table(comparison.metrics_table(), written[0])
    if comparison.tests:
        written.append(folder / "comparison_delong.csv")
        write_table(comparison.tests_table(), written[1])
    return written
