"""The steps of a radiomics model that scikit-learn lacks, as fit/transform estimators.

Each is fitted on the training rows of a fold only (they sit inside the
scikit-learn Pipeline that cross-validation refits), and each keeps feature
names (``get_feature_names_out``) so that the report can name what was kept:

- ``NearConstantFilter``: drops features whose most frequent value covers
  almost every training row (a constant feature has no information; a nearly
  constant one turns into a few outliers after scaling).
- ``CorrelationFilter``: redundancy removal by correlation clustering: features
  whose absolute Spearman correlation exceeds a threshold form one cluster
  (complete linkage), and the cluster's medoid represents it.
- ``UnivariateSelector``: k best features by a univariate test: ANOVA F,
  Mann-Whitney U (two classes) / Kruskal-Wallis (more), with k or a p-value.
- ``MRMRSelector``: minimum redundancy maximum relevance (F-statistic
  relevance over mean absolute correlation with the features already chosen,
  the "FCQ" variant of Ding & Peng / Zhao et al.).
- ``ComBatHarmonizer``: ComBat harmonisation by site (neuroHarmonize's
  empirical-Bayes estimates), learnt on the training rows and applied to the
  others; consumes the site column.
"""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_selection import SelectorMixin, f_classif
from sklearn.utils.validation import check_is_fitted, validate_data

from .errors import InputError, SettingsError


class _Selector(SelectorMixin, BaseEstimator):
    """A feature selector over a numeric matrix; subclasses set ``support_``."""

    def _get_support_mask(self) -> np.ndarray:
        check_is_fitted(self, "support_")
        return self.support_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags


class NearConstantFilter(_Selector):
    """Drop features whose most frequent value (NaN ignored) covers more than ``max_fraction`` of the rows."""

    def __init__(self, max_fraction: float = 0.95) -> None:
        self.max_fraction = max_fraction

    def fit(self, X, y=None) -> "NearConstantFilter":
        X = validate_data(self, X, ensure_all_finite="allow-nan", dtype=float)
        dominant = np.zeros(X.shape[1])
        for j in range(X.shape[1]):
            column = X[:, j][~np.isnan(X[:, j])]
            if column.size:
                dominant[j] = np.unique(column, return_counts=True)[1].max() / column.size
            else:
                dominant[j] = 1.0
        self.dominant_fraction_ = dominant
        self.support_ = dominant <= self.max_fraction
        if not self.support_.any():
            raise InputError("every feature is constant (or nearly so) on the training rows",
                             hint="check the feature table: were the features extracted from the right images?")
        return self


def _ranks(X: np.ndarray) -> np.ndarray:
    from scipy.stats import rankdata

    return rankdata(X, axis=0)


def _correlation(X: np.ndarray) -> np.ndarray:
    """Pearson correlation of the columns, 0 where a column has no variance."""
    centred = X - X.mean(axis=0)
    norms = np.sqrt((centred ** 2).sum(axis=0))
    norms[norms == 0] = np.inf
    unit = centred / norms
    return np.clip(unit.T @ unit, -1.0, 1.0)


class CorrelationFilter(_Selector):
    """Keep one feature (the medoid) per cluster of features correlated above ``threshold`` (|Spearman|)."""

    def __init__(self, threshold: float = 0.9, method: str = "spearman") -> None:
        self.threshold = threshold
        self.method = method

    def fit(self, X, y=None) -> "CorrelationFilter":
        from scipy.cluster.hierarchy import fcluster, linkage
        from scipy.spatial.distance import squareform

        if self.method not in ("spearman", "pearson"):
            raise SettingsError(f"correlation method must be spearman or pearson, not '{self.method}'")
        X = validate_data(self, X, dtype=float)
        n = X.shape[1]
        if n < 2:
            self.support_, self.clusters_ = np.ones(n, bool), np.ones(n, int)
            return self
        corr = np.abs(_correlation(_ranks(X) if self.method == "spearman" else X))
        distance = 1.0 - corr
        np.fill_diagonal(distance, 0.0)
        tree = linkage(squareform(distance, checks=False), method="complete")
        clusters = fcluster(tree, t=1.0 - self.threshold, criterion="distance")
        support = np.zeros(n, bool)
        for cluster in np.unique(clusters):
            members = np.flatnonzero(clusters == cluster)
            medoid = members[np.argmax(corr[np.ix_(members, members)].sum(axis=1))]
            support[medoid] = True
        self.support_, self.clusters_ = support, clusters
        return self


def mann_whitney_scores(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """-log10 p of a two-sided Mann-Whitney U test (two classes) or Kruskal-Wallis (more), per feature."""
    from scipy.stats import kruskal, mannwhitneyu

    classes = np.unique(y)
    groups = [X[y == c] for c in classes]
    with np.errstate(all="ignore"):
        if len(classes) == 2:
            _, p = mannwhitneyu(groups[0], groups[1], axis=0, alternative="two-sided")
        else:
            _, p = kruskal(*groups, axis=0)
    p = np.nan_to_num(np.asarray(p, float), nan=1.0)
    return -np.log10(np.clip(p, 1e-300, 1.0)), p


def anova_scores(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    with np.errstate(all="ignore"):
        f, p = f_classif(X, y)
    return np.nan_to_num(f, nan=0.0), np.nan_to_num(p, nan=1.0)


class UnivariateSelector(_Selector):
    """The ``k`` features with the best univariate test (or those with p < ``p_value`` when k is None)."""

    TESTS = {"anova": anova_scores, "mannwhitney": mann_whitney_scores}

    def __init__(self, test: str = "anova", k: int | None = 10, p_value: float = 0.05) -> None:
        self.test = test
        self.k = k
        self.p_value = p_value

    def fit(self, X, y) -> "UnivariateSelector":
        if self.test not in self.TESTS:
            raise SettingsError(f"unknown univariate test '{self.test}'", hint=f"choose {', '.join(self.TESTS)}")
        X, y = validate_data(self, X, y, dtype=float)
        self.scores_, self.pvalues_ = self.TESTS[self.test](X, y)
        self.support_ = _top_k(self.scores_, self.k) if self.k is not None else self.pvalues_ < self.p_value
        if not self.support_.any():  # nothing passes the threshold: keep the best one rather than nothing
            self.support_ = _top_k(self.scores_, 1)
        return self


def _top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Mask of the k highest scores (ties broken by column order, so the result is deterministic)."""
    order = np.argsort(-scores, kind="stable")[:min(k, len(scores))]
    support = np.zeros(len(scores), bool)
    support[order] = True
    return support


class MRMRSelector(_Selector):
    """Minimum redundancy, maximum relevance: greedily the feature with the highest F / mean |r| to those chosen."""

    def __init__(self, k: int = 10) -> None:
        self.k = k

    def fit(self, X, y) -> "MRMRSelector":
        X, y = validate_data(self, X, y, dtype=float)
        relevance, _ = anova_scores(X, y)
        centred = X - X.mean(axis=0)
        norms = np.sqrt((centred ** 2).sum(axis=0))
        unit = centred / np.where(norms == 0, np.inf, norms)
        k = min(self.k, X.shape[1])
        chosen = [int(np.argmax(relevance))]
        redundancy = np.zeros(X.shape[1])
        for _ in range(k - 1):
            redundancy += np.abs(unit.T @ unit[:, chosen[-1]])
            score = relevance / np.maximum(redundancy / len(chosen), 1e-6)
            score[chosen] = -np.inf
            chosen.append(int(np.argmax(score)))
        self.ranking_ = np.array(chosen)
        self.relevance_ = relevance
        self.support_ = np.zeros(X.shape[1], bool)
        self.support_[chosen] = True
        return self


class ComBatHarmonizer(TransformerMixin, BaseEstimator):
    """ComBat harmonisation by site: estimates learnt on the training rows, applied to any rows.

    Input: a DataFrame with the features and a ``site_column``; output: the
    harmonised features, without the site column. Missing values stay missing
    (imputed later in the pipeline) and are filled with the training median for
    the estimation only. Features without variance in some training site are
    passed through unchanged. A site not seen in training is an error: ComBat
    has no estimate for it.
    """

    def __init__(self, site_column: str = "site", empirical_bayes: bool = True) -> None:
        self.site_column = site_column
        self.empirical_bayes = empirical_bayes

    def _split(self, X) -> tuple[pd.DataFrame, pd.Series]:
        if not isinstance(X, pd.DataFrame) or self.site_column not in X.columns:
            raise InputError(f"ComBat needs the site column '{self.site_column}' beside the features",
                             hint="name the site column with --site (it must be in the table)")
        sites = X[self.site_column].astype(str)
        return X.drop(columns=[self.site_column]).astype(float), sites

    def fit(self, X, y=None) -> "ComBatHarmonizer":
        from neuroHarmonize import harmonizationLearn

        features, sites = self._split(X)
        counts = sites.value_counts()
        if len(counts) < 2:
            raise InputError(f"ComBat needs at least two sites, the training rows have {len(counts)}",
                             hint="drop --harmonize, or check the site column")
        if counts.min() < 2:
            raise InputError(f"site(s) {', '.join(counts.index[counts < 2])} have a single training row",
                             hint="ComBat estimates a mean and a variance per site: merge small sites")
        self.feature_names_in_ = np.array(features.columns, dtype=object)
        self.n_features_in_ = X.shape[1]
        values = features.to_numpy()
        self.medians_ = np.nanmedian(values, axis=0)
        filled = np.where(np.isnan(values), self.medians_, values)
        spread = pd.DataFrame(filled).groupby(sites.to_numpy()).std(ddof=0).to_numpy()
        self.harmonized_ = np.nan_to_num(spread).min(axis=0) > 0
        self.sites_ = sorted(counts.index)
        if self.harmonized_.sum() >= 2:
            covars = pd.DataFrame({"SITE": sites.to_numpy()})
            with contextlib.redirect_stdout(io.StringIO()):  # neuroHarmonize prints its progress
                self.model_, _ = harmonizationLearn(filled[:, self.harmonized_], covars, eb=self.empirical_bayes,
                                                    seed=0)
        else:
            self.model_ = None
        return self

    def transform(self, X) -> pd.DataFrame:
        from neuroHarmonize import harmonizationApply

        check_is_fitted(self, "harmonized_")
        features, sites = self._split(X)
        unseen = sorted(set(sites) - set(self.sites_))
        if unseen:
            raise InputError(f"site(s) {', '.join(unseen)} were not in the training data; ComBat has no estimate "
                             "for them", hint=f"training sites: {', '.join(self.sites_)}")
        missing = [c for c in self.feature_names_in_ if c not in features.columns]
        if missing:
            raise InputError(f"{len(missing)} feature(s) the harmonisation was fitted on are missing "
                             f"(e.g. {', '.join(missing[:3])})")
        features = features[list(self.feature_names_in_)]
        values = features.to_numpy().copy()
        if self.model_ is not None:
            nan = np.isnan(values)
            filled = np.where(nan, self.medians_, values)
            covars = pd.DataFrame({"SITE": sites.to_numpy()})
            with contextlib.redirect_stdout(io.StringIO()):
                adjusted = harmonizationApply(filled[:, self.harmonized_], covars, self.model_)
            block = values[:, self.harmonized_]
            block[:] = adjusted
            values[:, self.harmonized_] = block
            values[nan] = np.nan
        return pd.DataFrame(values, index=X.index, columns=self.feature_names_in_)

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        check_is_fitted(self, "harmonized_")
        return self.feature_names_in_.copy()
