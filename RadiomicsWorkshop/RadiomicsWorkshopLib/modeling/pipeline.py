"""Model development on feature tables: a scikit-learn Pipeline validated by nested, patient-grouped CV.

Every step that learns from data sits inside the Pipeline, so cross-validation
refits it on the training rows of each fold and it never sees the fold's test
rows: optional ComBat harmonisation by site, near-constant filtering,
imputation, scaling, redundancy removal (correlation clustering), feature
selection, class-imbalance handling (class weights or SMOTE variants, applied
to training rows only by imbalanced-learn's Pipeline) and the classifier.

Validation is nested: the outer folds give the performance estimate, the inner
folds (inside each outer training set) choose the hyperparameters. Folds are
grouped by patient, so the rows of one patient (slices, lesions) are always
on one side of a split. The final model is the same search refitted on all
training rows.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..io.errors import InputError, SettingsError
from ..io.threads import thread_budget
from ..robustness.agreement import subject_keys
from .settings import KEY_COLUMNS, PENALTIES, RESERVED_COLUMNS, ModelSettings

# -- the data

@dataclass
class ModelData:
    """The rows a model learns from or predicts: features, outcome, patient of each row, identifying keys."""

    X: pd.DataFrame  # the feature columns (+ the site column when harmonising)
    y: np.ndarray | None  # outcome labels as strings
    groups: np.ndarray  # patient of each row
    keys: pd.DataFrame  # identifying columns, carried into prediction tables
    features: list[str]
    classes: list[str] = field(default_factory=list)
    outcome: str | None = None
    group_column: str | None = None
    site_column: str | None = None

    def target(self) -> np.ndarray:
        """The outcome as class indices 0..k-1 (into ``classes``): what the estimators are fitted on.

        Labels stay strings everywhere else; estimators see integers because scikit-learn 1.9's
        balanced class weights fail on string labels that look like numbers ('0', '1')."""
        lookup = {name: i for i, name in enumerate(self.classes)}
        return np.array([lookup[v] for v in self.y], dtype=int)

    def subset(self, rows: np.ndarray) -> "ModelData":
        return ModelData(self.X.iloc[rows], None if self.y is None else self.y[rows], self.groups[rows],
                         self.keys.iloc[rows], self.features, self.classes, self.outcome, self.group_column,
                         self.site_column)


def outcome_labels(values: pd.Series) -> np.ndarray:
    """Outcome values as strings; integral numbers without a '.0' (1.0 -> '1')."""
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        numbers = values.to_numpy(dtype=float)
        if np.all(numbers == np.round(numbers)):
            return np.array([str(int(v)) for v in numbers], dtype=object)
    return values.astype(str).str.strip().to_numpy(dtype=object)


def _groups(table: pd.DataFrame, group: str | None, source: str | None) -> tuple[np.ndarray, str | None]:
    """The patient of each row (rows of one patient must stay together in every split), and its column."""
    columns = list(table.columns)
    if group is not None:
        return table[group].astype(str).to_numpy(dtype=object), group
    if "patient_id" in columns and table["patient_id"].notna().all():
        return table["patient_id"].astype(str).to_numpy(dtype=object), "patient_id"
    if "case_id" in columns and table["case_id"].duplicated().any():
        repeated = table.loc[table["case_id"].duplicated(), "case_id"].astype(str).unique().tolist()
        raise InputError(
            f"rows repeat case ids ({_shown(repeated)}: several ROIs or slices per case) and there is no "
            "patient column, so rows of one patient could fall on both sides of a split", file=source,
            hint="add a patient_id column (or --clinical with one), or name the grouping column with --group "
                 "(--group case_id if each case is a different patient)")
    ids = table["case_id"] if "case_id" in columns else pd.Series(table.index)
    return ids.astype(str).to_numpy(dtype=object), None


def prepare_data(table: pd.DataFrame, outcome: str | None, *, group: str | None = None, site: str | None = None,
                 exclude: tuple[str, ...] | list[str] = (), features: list[str] | None = None,
                 source: str | None = None) -> ModelData:
    """Split a modelling table into features, outcome and groups, refusing what cannot be modelled.

    ``features``: the columns a fitted model expects (prediction); otherwise every numeric column that is
    not a key, the outcome, the group, the site or excluded.
    """
    columns = list(table.columns)
    if outcome is not None and outcome not in columns:
        raise InputError(f"no outcome column '{outcome}' (columns: {_shown(columns)})", file=source,
                         hint="name the outcome with --outcome, or merge the clinical table that holds it "
                              "(--clinical)")
    for name, option in ((group, "--group"), (site, "--site")):
        if name is not None and name not in columns:
            raise InputError(f"no column '{name}' for {option} (columns: {_shown(columns)})", file=source,
                             hint=f"check the name given to {option}")
    unknown = [c for c in exclude if c not in columns]
    if unknown:
        raise InputError(f"--exclude names column(s) the table does not have: {', '.join(unknown)}", file=source)
    table = table.reset_index(drop=True)
    y = None
    if outcome is not None:
        missing = table.index[table[outcome].isna()].tolist()
        if missing:
            raise InputError(f"{len(missing)} row(s) have no outcome value (table rows {_shown([m + 2 for m in missing])})",
                             file=source, hint="fill in or remove those rows")
        y = outcome_labels(table[outcome])
    groups, group_column = _groups(table, group, source)
    reserved = set(RESERVED_COLUMNS) | {c for c in (outcome, group, site) if c} | set(exclude)
    if features is None:
        candidates = [c for c in columns if c not in reserved]
        non_numeric = [c for c in candidates
                       if not (pd.api.types.is_numeric_dtype(table[c]) or pd.api.types.is_bool_dtype(table[c]))]
        if non_numeric:
            raise InputError(f"non-numeric column(s) {_shown(non_numeric)} cannot be features", file=source,
                             hint="encode them as numbers, or leave them out with --exclude "
                                  + " --exclude ".join(non_numeric[:3]))
        features = candidates
    else:
        missing = [c for c in features if c not in columns]
        if missing:
            raise InputError(f"{len(missing)} feature(s) the model needs are missing from the table: "
                             f"{_shown(missing, 10)}", file=source,
                             hint="extract them with the same settings (preset, deep model) as the training table")
        non_numeric = [c for c in features if not pd.api.types.is_numeric_dtype(table[c])]
        if non_numeric:
            raise InputError(f"feature column(s) {_shown(non_numeric)} are not numeric", file=source,
                             hint="the values must be numbers, as in the training table")
    if not features:
        raise InputError("the table has no feature columns", file=source,
                         hint="merge the feature tables (radiomics-workshop merge) or check --exclude")
    # One float block: tables read through Arrow hold one block per column, and every step's pandas output
    # and scikit-learn's check of it would then walk thousands of columns one by one (2.2x slower on the demo).
    X = pd.DataFrame(table[features].to_numpy(dtype=float, na_value=np.nan), columns=features, index=table.index)
    empty = [c for c in features if X[c].isna().all()]
    if empty and outcome is not None:
        raise InputError(f"{len(empty)} feature column(s) hold no value at all: {_shown(empty)}", file=source,
                         hint="they cannot inform a model; leave them out with --exclude (or re-extract them)")
    infinite = [c for c in features if np.isinf(X[c].to_numpy()).any()]
    if infinite:
        raise InputError(f"feature column(s) {_shown(infinite)} hold infinite values", file=source,
                         hint="check how they were computed; replace them by empty cells to have them imputed")
    if site is not None:
        X = X.assign(**{site: table[site].astype(str).to_numpy()})
    keys = table[[c for c in KEY_COLUMNS if c in columns and c not in ("image", "mask")]].copy()
    classes = sorted(set(y)) if y is not None else []
    return ModelData(X, y, groups, keys, list(features), classes, outcome, group_column, site)


def _shown(values, limit: int = 5) -> str:
    values = [str(v) for v in values]
    return ", ".join(values[:limit]) + (f" and {len(values) - limit} more" if len(values) > limit else "")


def check_trainable(data: ModelData, settings: ModelSettings, source: str | None = None) -> None:
    """Refuse tables cross-validation cannot handle: one class, fewer patients than folds."""
    counts = pd.Series(data.y).value_counts()
    if len(counts) < 2:
        raise InputError(f"the outcome '{data.outcome}' has a single class ({counts.index[0]}) in the "
                         f"{len(data.y)} training row(s)", file=source,
                         hint="a classifier needs at least two classes: check the outcome column")
    if settings.positive_class is not None and settings.positive_class not in data.classes:
        raise SettingsError(f"positive class '{settings.positive_class}' is not an outcome value "
                            f"({', '.join(data.classes)})")
    if settings.positive_class is not None and len(data.classes) > 2:
        raise SettingsError("--positive applies to two classes only")
    patients_per_class = pd.DataFrame({"g": data.groups, "y": data.y}).groupby("y")["g"].nunique()
    n_patients = len(set(data.groups))
    smallest = patients_per_class.min()
    if n_patients < settings.outer_folds or smallest < settings.outer_folds:
        raise InputError(
            f"{n_patients} patient(s), {smallest} in the smallest class ({patients_per_class.idxmin()}), "
            f"for {settings.outer_folds} outer folds: every class needs a patient in every fold", file=source,
            hint="use fewer folds (--outer-folds), or more patients")
    # The inner folds split an outer training set, which holds about (k-1)/k of each class's patients.
    inner_smallest = int(smallest * (settings.outer_folds - 1) / settings.outer_folds)
    if inner_smallest < settings.inner_folds:
        raise InputError(
            f"the smallest class ({patients_per_class.idxmin()}) has {smallest} patient(s): an outer training set "
            f"holds about {inner_smallest}, fewer than the {settings.inner_folds} inner folds", file=source,
            hint="use fewer inner folds (--inner-folds), or more patients")


# -- the pipeline

def robustness_rows(path: str) -> pd.DataFrame:
    """A robustness table (``radiomics-workshop robustness``'s features.csv) with each row's subject."""
    from ..io.tables import read_table

    rows = read_table(path)
    if "perturbation" not in rows.columns:
        raise InputError("not a robustness table (no perturbation column)", file=path,
                         hint="give the features.csv that radiomics-workshop robustness wrote")
    return rows.assign(subject=subject_keys(rows))


def build_pipeline(settings: ModelSettings, *, n_classes: int = 2, site_column: str | None = None,
                   keys: pd.DataFrame | None = None):
    """The unfitted imbalanced-learn Pipeline (a scikit-learn Pipeline that resamples training rows only)
    and the hyperparameter grid the inner CV searches; ``keys``: the rows' keys (the robustness filter's
    subjects)."""
    from imblearn.pipeline import Pipeline
    from sklearn.impute import SimpleImputer
    from sklearn.preprocessing import RobustScaler, StandardScaler

    from .steps import ComBatHarmonizer, CorrelationFilter, NearConstantFilter

    seed = settings.seed
    balanced = "balanced" if settings.imbalance == "class_weight" else None
    steps: list[tuple[str, Any]] = []
    if settings.robust_icc is not None:
        from .steps import RobustnessFilter

        subjects = subject_keys(keys).to_numpy()
        steps.append(("robust", RobustnessFilter(robustness_rows(settings.robustness_table), subjects,
                                                 settings.robust_icc)))
    if settings.harmonize:
        if site_column is None:
            raise SettingsError("harmonisation needs a site column", hint="name it with --site")
        steps.append(("harmonize", ComBatHarmonizer(site_column=site_column)))
    steps.append(("near_constant", NearConstantFilter(settings.near_constant)))
    steps.append(("impute", SimpleImputer(strategy="median", keep_empty_features=False)))
    if settings.scaling != "none":
        steps.append(("scale", StandardScaler() if settings.scaling == "standard" else RobustScaler()))
    if settings.deep_pca is not None:  # fitted on training folds only, saved with the model
        from ..deep.reduction import DeepFeaturePCA

        steps.append(("deep_pca", DeepFeaturePCA(n_components=settings.deep_pca, random_state=seed)))
    if settings.correlation_threshold is not None:
        steps.append(("decorrelate", CorrelationFilter(settings.correlation_threshold)))
    grid: dict[str, list] = {}
    if settings.selection != "none":
        step, k_name = _selector(settings, balanced)
        steps.append(("select", step))
        if settings.threshold is None and len(settings.k) > 1:
            grid[f"select__{k_name}"] = list(settings.k)
    sampler = _sampler(settings.imbalance, seed)
    if sampler is not None:
        steps.append(("resample", sampler))
    classifier, classifier_grid = _classifier(settings, balanced)
    steps.append(("classifier", classifier))
    grid.update({f"classifier__{k}": v for k, v in classifier_grid.items()})
    pipeline = Pipeline(steps)
    # Each step hands on a plain array (feature names follow through get_feature_names_out): a DataFrame between
    # steps had scikit-learn check the dtype of each of its 2,000 columns in every step of every fit (a third of
    # the demo's training time). The deep-feature PCA finds its columns by name, so it needs one.
    pipeline.set_output(transform="pandas" if settings.deep_pca is not None else "default")
    return pipeline, grid


def _selector(settings: ModelSettings, balanced):
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.feature_selection import SelectFromModel
    from sklearn.linear_model import LogisticRegression

    from .steps import MRMRSelector, UnivariateSelector

    k = None if settings.threshold is not None else settings.k[0]
    if settings.selection in ("anova", "mannwhitney"):
        return UnivariateSelector(settings.selection, k=k, p_value=settings.threshold or 0.05), "k"
    if settings.selection == "mrmr":
        if k is None:
            raise SettingsError("mRMR ranks features: give --k, not a threshold")
        return MRMRSelector(k), "k"
    if settings.selection == "lasso":
        estimator = LogisticRegression(l1_ratio=1.0, C=0.5, solver="saga", max_iter=5000, class_weight=balanced,
                                       random_state=settings.seed)
        default_threshold = 1e-5  # the features LASSO keeps (non-zero coefficients)
    else:
        estimator = RandomForestClassifier(n_estimators=200, class_weight=balanced, random_state=settings.seed,
                                           n_jobs=1)
        default_threshold = "mean"
    if k is None:
        return SelectFromModel(estimator, threshold=settings.threshold or default_threshold), "max_features"
    return SelectFromModel(estimator, threshold=-np.inf, max_features=k), "max_features"


def _sampler(imbalance: str, seed: int):
    if imbalance in ("none", "class_weight"):
        return None
    from imblearn import over_sampling

    kind = {"smote": over_sampling.SMOTE, "borderline_smote": over_sampling.BorderlineSMOTE,
            "svm_smote": over_sampling.SVMSMOTE, "adasyn": over_sampling.ADASYN}[imbalance]
    return kind(random_state=seed)


def _classifier(settings: ModelSettings, balanced):
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.svm import SVC

    seed = settings.seed
    if settings.classifier == "logistic":
        l1_ratio = PENALTIES[settings.penalty]
        model = LogisticRegression(l1_ratio=l1_ratio, solver="lbfgs" if l1_ratio == 0 else "saga", max_iter=5000,
                                   class_weight=balanced, random_state=seed)
        grid: dict[str, list] = {"C": [0.01, 0.1, 1.0, 10.0]}
        if settings.penalty == "elasticnet":
            grid["l1_ratio"] = [0.2, 0.5, 0.8]
        return model, grid
    if settings.classifier == "random_forest":
        return (RandomForestClassifier(n_estimators=300, class_weight=balanced, random_state=seed, n_jobs=1),
                {"max_depth": [None, 4], "min_samples_leaf": [1, 5]})
    if settings.classifier == "svm":
        # Probabilities by Platt scaling on internal folds (what SVC(probability=True) did, now explicit).
        model = CalibratedClassifierCV(SVC(kernel="rbf", class_weight=balanced, random_state=seed), ensemble=False,
                                       cv=3)
        return model, {"estimator__C": [0.1, 1.0, 10.0]}
    return (HistGradientBoostingClassifier(class_weight=balanced, early_stopping=False, random_state=seed),
            {"learning_rate": [0.05, 0.1], "max_depth": [2, 4]})


# -- validation

def outer_splits(data: ModelData, settings: ModelSettings, folds: pd.DataFrame | None = None):
    """(train rows, test rows) of each outer fold: patient-grouped, stratified, seeded; or a given assignment
    (``folds``: columns group, fold), so that other models are compared on exactly the same patients."""
    from sklearn.model_selection import StratifiedGroupKFold

    if folds is not None:
        lookup = dict(zip(folds["group"].astype(str), folds["fold"].astype(int)))
        unknown = sorted(set(data.groups) - set(lookup))
        if unknown:
            raise InputError(f"{len(unknown)} patient(s) have no fold in the given assignment "
                             f"(e.g. {_shown(unknown)})", hint="use the folds file of a model trained on this table")
        assigned = np.array([lookup[g] for g in data.groups])
        return [(np.flatnonzero(assigned != f), np.flatnonzero(assigned == f)) for f in sorted(set(assigned))]
    splitter = StratifiedGroupKFold(n_splits=settings.outer_folds, shuffle=True, random_state=settings.seed)
    return list(splitter.split(data.X, data.y, data.groups))


def _search(settings: ModelSettings, data: ModelData, jobs: int):
    from sklearn.model_selection import GridSearchCV, StratifiedGroupKFold

    pipeline, grid = build_pipeline(settings, n_classes=len(data.classes), site_column=data.site_column,
                                    keys=data.keys)
    inner = StratifiedGroupKFold(n_splits=settings.inner_folds, shuffle=True, random_state=settings.seed)
    scoring = "roc_auc" if len(data.classes) == 2 else "roc_auc_ovr"
    return GridSearchCV(pipeline, grid or {"classifier__random_state": [settings.seed]}, scoring=scoring, cv=inner,
                        n_jobs=jobs, refit=True, error_score="raise")


def _fit_search(search, data: ModelData, what: str):
    """Fit a hyperparameter search, turning the errors of steps into messages that say what to do.

    The search runs its candidates in ``--jobs`` processes (joblib gives each worker one BLAS / OpenMP thread);
    what it fits in this process gets one thread too: the models are small, and HistGradientBoosting's OpenMP
    threads beside the workers' oversubscribe the cores (85 s against 11 s for one test on two cores)."""
    import tempfile

    with warnings.catch_warnings(), thread_budget(1), tempfile.TemporaryDirectory(prefix="radiomics-cv-") as cache:
        warnings.filterwarnings("ignore", category=UserWarning)
        warnings.filterwarnings("ignore", message=".*(converge|ConvergenceWarning).*")
        # The steps before the searched ones (filters, imputation, scaling) are fitted once per training fold, not
        # once per candidate: scikit-learn's transformer cache (Pipeline memory), kept for this search only.
        search.estimator.set_params(memory=cache)
        try:
            search.fit(data.X, data.target(), groups=data.groups)
            search.best_estimator_.set_params(memory=None)
        except ValueError as exc:
            text = str(exc)
            if "n_neighbors" in text or "n_samples_fit" in text:
                raise InputError(f"{what}: the minority class is too small for SMOTE's neighbours ({text})",
                                 hint="use --imbalance class_weight, or fewer folds") from None
            if "No samples will be generated" in text:
                raise InputError(f"{what}: the classes are balanced in a training set, so ADASYN has no sample "
                                 "to generate", hint="use --imbalance smote or class_weight") from None
            raise
    return search


def selected_features(pipeline) -> list[str]:
    """Names of the features the fitted pipeline's classifier uses (after selection)."""
    names = None
    for name, step in pipeline.steps[:-1]:
        if hasattr(step, "get_feature_names_out") and name != "resample":
            names = list(step.get_feature_names_out(names))
    return names or []


def _proba(estimator, X: pd.DataFrame, n_classes: int) -> np.ndarray:
    """Predicted probabilities, one column per class index 0..n_classes-1 (see ``ModelData.target``)."""
    proba = estimator.predict_proba(X)
    order = [list(estimator.classes_).index(i) for i in range(n_classes)]
    return proba[:, order]


@dataclass
class CrossValidation:
    proba: np.ndarray  # out-of-fold probabilities (rows x classes)
    fold: np.ndarray  # outer fold of each row
    per_fold: list[dict]
    seconds: float


def nested_cross_validation(data: ModelData, settings: ModelSettings, *, jobs: int = 1, progress=None,
                            folds: pd.DataFrame | None = None) -> CrossValidation:
    """Out-of-fold probabilities of every training row: each outer fold's model (inner grid search on the
    outer training rows only) predicts the fold's held-out patients."""
    from .metrics import point_metrics

    start = time.monotonic()
    splits = outer_splits(data, settings, folds)
    proba = np.full((len(data.y), len(data.classes)), np.nan)
    fold_of = np.full(len(data.y), -1)
    per_fold = []
    for index, (train, test) in enumerate(splits):
        shared = set(data.groups[train]) & set(data.groups[test])
        assert not shared, f"patients on both sides of outer fold {index}: {sorted(shared)[:3]}"
        search = _fit_search(_search(settings, data, jobs), data.subset(train), f"outer fold {index + 1}")
        proba[test] = _proba(search.best_estimator_, data.X.iloc[test], len(data.classes))
        fold_of[test] = index
        per_fold.append({
            "fold": index + 1, "train_rows": int(len(train)), "test_rows": int(len(test)),
            "train_patients": int(len(set(data.groups[train]))), "test_patients": int(len(set(data.groups[test]))),
            "hyperparameters": _plain(search.best_params_), "inner_auc": float(search.best_score_),
            "selected_features": selected_features(search.best_estimator_),
            "metrics": point_metrics(data.y[test], proba[test], data.classes, settings.positive_class)})
        if progress is not None:
            progress.advance(f"outer fold {index + 1}/{len(splits)}: AUC {per_fold[-1]['metrics']['auc']:.3f}")
    return CrossValidation(proba, fold_of, per_fold, time.monotonic() - start)


def _plain(params: dict) -> dict:
    return {k: (v.item() if hasattr(v, "item") else v) for k, v in params.items()}


@dataclass
class FinalModel:
    pipeline: Any
    hyperparameters: dict
    inner_auc: float
    selected: list[str]
    importance: list[dict]


def fit_final_model(data: ModelData, settings: ModelSettings, *, jobs: int = 1) -> FinalModel:
    """The search refitted on all training rows; permutation importance of the features it uses."""
    search = _fit_search(_search(settings, data, jobs), data, "final model")
    pipeline = search.best_estimator_
    if "robust" in pipeline.named_steps:  # what it kept stays; the measurements are not saved with the model
        pipeline.named_steps["robust"].forget_measurements()
    with thread_budget(1):
        importance = permutation_importances(pipeline, data, settings.seed)
    return FinalModel(pipeline, _plain(search.best_params_), float(search.best_score_), selected_features(pipeline),
                      importance)


def permutation_importances(pipeline, data: ModelData, seed: int = 0, repeats: int = 10) -> list[dict]:
    """Increase in log loss when each feature the classifier uses is shuffled (on the training rows).

    Log loss rather than AUC: with several informative features the AUC barely moves when one is
    shuffled (it saturates), so an AUC drop ranks features by noise.

    Features the pipeline does not keep have no influence on its predictions; shuffling the ones
    it keeps after the per-column steps (imputation, scaling) is shuffling the raw feature.
    """
    from sklearn.inspection import permutation_importance

    transformed = data.X
    for name, step in pipeline.steps[:-1]:
        if name != "resample":
            transformed = step.transform(transformed)
    result = permutation_importance(pipeline.steps[-1][1], transformed, data.target(), scoring="neg_log_loss",
                                    n_repeats=repeats, random_state=seed, n_jobs=1)
    rows = [{"feature": str(name), "importance_mean": float(m), "importance_std": float(s)}
            for name, m, s in zip(selected_features(pipeline), result.importances_mean, result.importances_std)]
    return sorted(rows, key=lambda r: -r["importance_mean"])


def predict_table(pipeline, data: ModelData, classes: list[str]) -> pd.DataFrame:
    """Keys, predicted class and one probability column per class."""
    proba = _proba(pipeline, data.X, len(classes))
    out = data.keys.reset_index(drop=True).copy()
    out["predicted"] = np.asarray(classes, dtype=object)[proba.argmax(axis=1)]
    for i, name in enumerate(classes):
        out[f"probability_{name}"] = proba[:, i]
    return out
