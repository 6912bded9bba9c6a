"""Train, predict, report: the modelling step from feature tables to a model folder.

``train_model`` joins the tables (radiomics, deep, clinical), checks them,
runs the nested patient-grouped cross-validation, evaluates it with patient
bootstrap CIs, refits the final model on all training rows, evaluates it on a
held-out split or an external table when given, and writes the model folder
(``model_store``) with its HTML report. ``predict_model`` applies a saved
model to new cases.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from ..io.errors import InputError, OutputExistsError, SettingsError
from .pipeline import ModelData, check_trainable, fit_final_model, nested_cross_validation, predict_table, prepare_data
from .settings import ModelSettings

TRIPOD_CLEAR_ITEMS = [
    ("TRIPOD+AI 6/8", "Outcome and predictors defined: outcome column, classes and the features used are listed"),
    ("TRIPOD+AI 9", "Sample size: rows, patients and events per class are reported"),
    ("TRIPOD+AI 10", "Missing data: median imputation inside the cross-validation folds"),
    ("TRIPOD+AI 12", "Analysis: every preprocessing, selection and tuning step inside the pipeline, "
                     "nested cross-validation, grouped by patient"),
    ("TRIPOD+AI 12e", "Performance measures: discrimination (ROC AUC), calibration (plot, Brier score), "
                      "clinical utility (decision curve), each with 95% CIs from a patient bootstrap"),
    ("TRIPOD+AI 12f", "Class imbalance handled inside the folds (class weights or SMOTE variants)"),
    ("TRIPOD+AI 23", "Model specification: the final pipeline, its hyperparameters and features, saved with skops"),
    ("CLEAR 31-33", "Feature redundancy removal, feature selection and their stability across folds"),
    ("CLEAR 35-36", "Validation: internal (nested CV) and, when given, a held-out or external test set"),
    ("CLEAR 37", "Harmonisation (ComBat) fitted on training folds only, when asked"),
    ("CLEAR 52-53", "Software and library versions; the model, its card and the predictions are shared as files"),
]


@dataclass
class TrainResult:
    folder: Path
    card: dict
    seconds: float


def _read_tables(tables: list[str | Path], clinical: str | Path | None, inner: bool) -> tuple[pd.DataFrame, list]:
    from .merge import merge_tables, read_input_table

    if not tables:
        raise InputError("no feature table given", hint="pass --table FEATURES.csv (several: they are joined)")
    if len(tables) == 1 and clinical is None:
        return read_input_table(tables[0]), []
    return merge_tables(list(tables), clinical, inner=inner)


def _table_digest(frame: pd.DataFrame) -> str:
    """SHA-256 of the table's content (columns and values), independent of the file format."""
    digest = hashlib.sha256()
    digest.update("\x1f".join(map(str, frame.columns)).encode())
    digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()


def _split_rows(table: pd.DataFrame, split_column: str, source) -> tuple[pd.DataFrame, pd.DataFrame]:
    if split_column not in table.columns:
        raise InputError(f"no split column '{split_column}'", file=source, hint="check --split-column")
    values = table[split_column].astype(str).str.strip().str.lower()
    unknown = sorted(set(values) - {"train", "test"})
    if unknown:
        raise InputError(f"split column '{split_column}' holds {', '.join(unknown)}; only train and test are allowed",
                         file=source)
    return table[values == "train"].drop(columns=[split_column]), table[values == "test"].drop(columns=[split_column])


def _test_data(data: ModelData, test_table, test_tables, test_clinical, inner_join: bool, outcome: str, *,
               group, site, source: str) -> ModelData | None:
    """The held-out test rows (a --split-column's, or --test-table's), with the training's features; refused
    when they hold classes training lacks or patients training has."""
    if test_tables:
        if test_table is not None:
            raise SettingsError("give either --split-column or --test-table, not both")
        test_table, _ = _read_tables(test_tables, test_clinical, inner_join)
    if test_table is None:
        return None
    test_data = prepare_data(test_table, outcome, group=group, site=site, features=data.features, source=source)
    unknown = sorted(set(test_data.y) - set(data.classes))
    if unknown:
        raise InputError(f"the test rows have outcome value(s) {', '.join(unknown)} that training lacks")
    overlap = sorted(set(test_data.groups) & set(data.groups))
    if overlap:
        raise InputError(f"{len(overlap)} patient(s) are in both the training and the test rows "
                         f"(e.g. {', '.join(overlap[:3])})", hint="a patient belongs to one side only")
    return test_data


def _write_predictions(folder: Path, data: ModelData, cv) -> None:
    """predictions.csv (out of fold, with the fold) and folds.csv (the fold of each patient)."""
    from ..io.tables import write_table

    oof = _prediction_frame(data, cv.proba)
    oof.insert(len(data.keys.columns), "fold", cv.fold + 1)
    write_table(oof, folder / "predictions.csv")
    fold_table = (pd.DataFrame({"group": data.groups, "fold": cv.fold + 1}).drop_duplicates()
                  .sort_values(["fold", "group"]))
    write_table(fold_table, folder / "folds.csv")


def _evaluate_test(folder: Path, final, test_data: ModelData, data: ModelData, outcome: str,
                   settings: ModelSettings):
    """The final model on the held-out test rows: test_predictions.csv and the metrics with CIs."""
    from ..io.tables import write_table
    from .metrics import evaluate

    test_pred = predict_table(final.pipeline, test_data, data.classes)
    test_pred.insert(len(test_data.keys.columns), outcome, test_data.y)
    write_table(test_pred, folder / "test_predictions.csv")
    proba = test_pred[[f"probability_{c}" for c in data.classes]].to_numpy()
    return evaluate(test_data.y, proba, data.classes, test_data.groups, positive=settings.positive_class,
                    n_bootstrap=settings.bootstrap, seed=settings.seed)


def _training_data_record(data: ModelData, table: pd.DataFrame, sources: list, merge_report, split_column) -> dict:
    """The card's training_data: sources and their hashes, rows, patients, classes, sites, missing values."""
    from ..io.provenance import file_digest

    counts = pd.Series(data.y).value_counts().sort_index()
    return {"sources": [{"path": str(p), "sha256": file_digest(p)} for p in sources],
            "table_sha256": _table_digest(table), "rows": int(len(data.y)), "patients": int(len(set(data.groups))),
            "class_counts": {str(k): int(v) for k, v in counts.items()},
            "patients_per_class": {str(k): int(v) for k, v in pd.DataFrame({"g": data.groups, "y": data.y})
                                   .groupby("y")["g"].nunique().items()},
            "sites": (sorted(set(data.X[data.site_column])) if data.site_column else None),
            "missing_values": int(data.X[data.features].isna().sum().sum()),
            "merge_notes": merge_report, "split_column": split_column}


def train_model(tables: list[str | Path], outcome: str, out: str | Path, settings: ModelSettings, *,
                clinical: str | Path | None = None, group: str | None = None, site: str | None = None,
                exclude: tuple[str, ...] = (), split_column: str | None = None,
                test_tables: list[str | Path] | None = None, test_clinical: str | Path | None = None,
                folds_file: str | Path | None = None, inner_join: bool = False, jobs: int = 1,
                overwrite: bool = False, progress=None, report: bool = True) -> TrainResult:
    from ..io.provenance import library_versions
    from .metrics import evaluate
    from .store import prepare_folder, save_model

    start = time.monotonic()
    settings.check()
    if settings.harmonize and site is None:
        raise SettingsError("--harmonize needs the site column", hint="name it with --site")
    folder = prepare_folder(out, overwrite)
    source = ", ".join(map(str, tables))
    table, merge_report = _read_tables(tables, clinical, inner_join)
    test_table = None
    if split_column is not None:
        table, test_table = _split_rows(table, split_column, source)
    data = prepare_data(table, outcome, group=group, site=site, exclude=exclude, source=source)
    check_trainable(data, settings, source)
    folds = None
    if folds_file is not None:
        folds = read_folds(folds_file)
    test_data = _test_data(data, test_table, test_tables, test_clinical, inner_join, outcome, group=group,
                           site=site, source=", ".join(map(str, test_tables or tables)))
    if progress is not None:
        n_folds = settings.outer_folds if folds is None else folds["fold"].nunique()
        progress.start(n_folds + 1, f"{len(data.y)} rows, {len(set(data.groups))} patients, "
                                    f"{len(data.features)} features")
    cv = nested_cross_validation(data, settings, jobs=jobs, progress=progress, folds=folds)
    cv_eval = evaluate(data.y, cv.proba, data.classes, data.groups, positive=settings.positive_class,
                       n_bootstrap=settings.bootstrap, seed=settings.seed)
    final = fit_final_model(data, settings, jobs=jobs)
    if progress is not None:
        progress.advance("final model")
    _write_predictions(folder, data, cv)  # before the card, so that the card can name them
    test_eval = _evaluate_test(folder, final, test_data, data, outcome, settings) if test_data is not None else None
    frequency = pd.Series([f for fold in cv.per_fold for f in fold["selected_features"]]).value_counts()
    card = {
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "outcome": outcome, "classes": data.classes,
        "positive_class": settings.positive_class or (data.classes[1] if len(data.classes) == 2 else None),
        "features": data.features, "group_column": data.group_column, "site_column": data.site_column,
        "settings": settings.to_dict(),
        "training_data": _training_data_record(data, table, list(tables) + ([clinical] if clinical else []),
                                               merge_report, split_column),
        "cv_design": {
            "outer": f"{settings.outer_folds}-fold StratifiedGroupKFold, shuffled (seed {settings.seed})"
                     if folds is None else f"given fold assignment ({folds_file})",
            "inner": f"{settings.inner_folds}-fold StratifiedGroupKFold grid search, scoring ROC AUC",
            "grouped_by": data.group_column or "case_id (one row per case)",
            "bootstrap": f"{settings.bootstrap} resamples of patients, percentile 95% CI"},
        "cross_validation": {**cv_eval.to_dict(), "per_fold": cv.per_fold, "seconds": round(cv.seconds, 2),
                             "mean_fold_auc": float(np.nanmean([f["metrics"]["auc"] for f in cv.per_fold]))},
        "selection_frequency": {str(k): int(v) for k, v in frequency.items()},
        "final_model": {"hyperparameters": final.hyperparameters, "inner_auc": final.inner_auc,
                        "selected_features": final.selected, "permutation_importance": final.importance,
                        "steps": [name for name, _ in final.pipeline.steps]},
        "test": None if test_eval is None else {
            **test_eval.to_dict(), "source": "split column" if split_column else [str(p) for p in test_tables]},
        "library_versions": library_versions() | model_library_versions(),
        "tripod_clear": [{"item": item, "covered": text} for item, text in TRIPOD_CLEAR_ITEMS],
        "seconds": round(time.monotonic() - start, 2),
    }
    write_result_tables(folder, card)
    card = save_model(folder, final.pipeline, card)
    if report:
        from .report import write_report

        write_report(card, folder / "report.html")
    if progress is not None:
        progress.result(str(folder), auc=cv_eval.metrics["auc"])
    return TrainResult(folder, card, time.monotonic() - start)


def read_folds(path: str | Path) -> pd.DataFrame:
    path = Path(path)
    if not path.is_file():
        raise InputError("fold assignment not found", file=path, hint="give the folds.csv of a trained model")
    folds = pd.read_csv(path, dtype={"group": str})
    if not {"group", "fold"} <= set(folds.columns) or folds["group"].duplicated().any():
        raise InputError("a fold assignment has the columns group,fold and one row per patient", file=path)
    return folds


def write_result_tables(folder: Path, card: dict) -> None:
    """metrics.csv, roc.csv and calibration.csv: the card's numbers as tables, for Slicer's table and plot
    views and for spreadsheets (test_roc.csv and test_calibration.csv too when there is a test set)."""
    from ..io.tables import write_table
    from .metrics import FPR_GRID, METRICS

    sets = [("cross-validation", card["cross_validation"], "")]
    if card.get("test"):
        sets.append(("test", card["test"], "test_"))
    rows = [{"set": name, "metric": metric, "estimate": evaluation["metrics"][metric],
             "ci95_low": evaluation["ci95"][metric][0], "ci95_high": evaluation["ci95"][metric][1]}
            for name, evaluation, _ in sets for metric in METRICS]
    write_table(pd.DataFrame(rows), folder / "metrics.csv")
    for _, evaluation, prefix in sets:
        roc = evaluation["roc"]
        curves = pd.DataFrame({"false_positive_rate": FPR_GRID})
        if "fpr" in roc:
            curves["sensitivity"] = np.interp(FPR_GRID, roc["fpr"], roc["tpr"])
            if "band_low" in roc:
                curves["ci95_low"], curves["ci95_high"] = roc["band_low"], roc["band_high"]
        else:
            for name, curve in roc.items():
                curves[f"sensitivity_{name}"] = np.interp(FPR_GRID, curve["fpr"], curve["tpr"])
        curves["chance"] = FPR_GRID
        write_table(curves, folder / f"{prefix}roc.csv")
        calibration = pd.concat(
            [pd.DataFrame({f"predicted_{name}": points["predicted"], f"observed_{name}": points["observed"]})
             for name, points in evaluation["calibration"].items()], axis=1)
        calibration["perfect"] = np.linspace(0, 1, len(calibration)) if len(calibration) > 1 else [0.0]
        write_table(calibration, folder / f"{prefix}calibration.csv")


def model_library_versions() -> dict[str, str]:
    from importlib import metadata

    versions = {}
    for name in ("scikit-learn", "imbalanced-learn", "skops", "matplotlib"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def _prediction_frame(data: ModelData, proba: np.ndarray) -> pd.DataFrame:
    out = data.keys.reset_index(drop=True).copy()
    out[data.outcome] = data.y
    out["predicted"] = np.asarray(data.classes, dtype=object)[proba.argmax(axis=1)]
    for i, name in enumerate(data.classes):
        out[f"probability_{name}"] = proba[:, i]
    return out


def predict_model(model: str | Path, tables: list[str | Path], out: str | Path, *,
                  clinical: str | Path | None = None, inner_join: bool = False,
                  overwrite: bool = False) -> pd.DataFrame:
    """Predictions of a saved model for the rows of a table whose features match the model's."""
    from ..io.tables import check_table_path, write_table
    from .store import load_model

    out = check_table_path(out)
    if out.exists() and not overwrite:
        raise OutputExistsError("output exists", file=out, hint="pass --overwrite or choose another --out")
    pipeline, card = load_model(model)
    table, _ = _read_tables(tables, clinical, inner_join)
    source = ", ".join(map(str, tables))
    site = card.get("site_column")
    if site is not None and site not in table.columns:
        raise InputError(f"the model harmonises by site but the table has no '{site}' column", file=source,
                         hint=f"add the site of each row (training sites: {', '.join(card['training_data']['sites'])})")
    data = prepare_data(table, None, group="case_id" if "case_id" in table.columns else None, site=site,
                        features=card["features"], source=source)
    predictions = predict_table(pipeline, data, card["classes"])
    outcome = card["outcome"]
    if outcome in table.columns:
        predictions.insert(len(data.keys.columns), outcome, table[outcome].to_numpy())
    write_table(predictions, out)
    return predictions
