"""What a model is made of and how it is validated: the settings, recorded in every model card.

Kept apart from ``modeling`` (no NumPy, pandas or scikit-learn here) so that the
command line can offer the choices without importing them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from ..io.columns import CASE_ATTRIBUTES, IDENTIFIERS, MANIFEST_PATHS
from ..io.errors import SettingsError

CLASSIFIERS = ("logistic", "random_forest", "svm", "gradient_boosting")
PENALTIES = {"l2": 0.0, "l1": 1.0, "elasticnet": 0.5}
SELECTIONS = ("none", "anova", "mannwhitney", "lasso", "mrmr", "random_forest")
IMBALANCE = ("none", "class_weight", "smote", "borderline_smote", "svm_smote", "adasyn")
SCALINGS = ("standard", "robust", "none")
# Columns that identify rows or point at files: never features.
KEY_COLUMNS = IDENTIFIERS + MANIFEST_PATHS
# Manifest columns with a meaning of their own (docs/architecture.md, data contracts): never features either.
RESERVED_COLUMNS = KEY_COLUMNS + CASE_ATTRIBUTES


@dataclass
class ModelSettings:
    """What to fit and how to validate it (every field is recorded in the model card)."""

    classifier: str = "logistic"
    penalty: str = "l2"  # logistic regression: l2, l1 or elasticnet
    selection: str = "anova"
    k: tuple[int, ...] = (10,)  # features kept by the selection; several values: the inner CV chooses
    threshold: float | None = None  # instead of k: p-value (univariate) or importance threshold (lasso, rf)
    correlation_threshold: float | None = 0.9  # |Spearman| above which features are redundant; None: keep all
    near_constant: float = 0.95  # drop features whose most frequent value covers more of the rows
    scaling: str = "standard"
    imbalance: str = "class_weight"
    harmonize: bool = False  # ComBat by the site column
    deep_pca: float | None = None  # PCA of the deep_ columns inside the folds: components (>= 1) or variance (< 1)
    outer_folds: int = 5
    inner_folds: int = 5
    bootstrap: int = 1000
    seed: int = 0
    positive_class: str | None = None
    robust_icc: float | None = None  # keep features whose ICC(1,1) lower 95% bound reaches it (in the folds)
    robustness_table: str | None = None  # the robustness command's features.csv of the training cohort

    def check(self) -> "ModelSettings":
        for name, value, allowed in [("classifier", self.classifier, CLASSIFIERS),
                                     ("penalty", self.penalty, tuple(PENALTIES)),
                                     ("selection", self.selection, SELECTIONS),
                                     ("imbalance", self.imbalance, IMBALANCE),
                                     ("scaling", self.scaling, SCALINGS)]:
            if value not in allowed:
                raise SettingsError(f"unknown {name} '{value}'", hint=f"choose one of: {', '.join(allowed)}")
        self.k = tuple(int(k) for k in (self.k if isinstance(self.k, (list, tuple)) else (self.k,)))
        if self.selection != "none" and self.threshold is None and (not self.k or min(self.k) < 1):
            raise SettingsError("--k must be at least 1")
        if self.outer_folds < 2 or self.inner_folds < 2:
            raise SettingsError("cross-validation needs at least 2 outer and 2 inner folds")
        if self.correlation_threshold is not None and not 0 < self.correlation_threshold <= 1:
            raise SettingsError("the correlation threshold lies in (0, 1]")
        if self.deep_pca is not None:
            if self.deep_pca <= 0 or (self.deep_pca >= 1 and self.deep_pca != int(self.deep_pca)):
                raise SettingsError(f"--deep-pca {self.deep_pca}: give a number of components (1, 2, ...) or the "
                                    "fraction of variance to keep (0 < f < 1)")
            self.deep_pca = int(self.deep_pca) if self.deep_pca >= 1 else float(self.deep_pca)
        if (self.robust_icc is None) != (self.robustness_table is None):
            raise SettingsError("--robust-icc and --robustness-table go together",
                                hint="give the ICC threshold and the robustness command's features.csv")
        return self

    def to_dict(self) -> dict:
        return asdict(self)
