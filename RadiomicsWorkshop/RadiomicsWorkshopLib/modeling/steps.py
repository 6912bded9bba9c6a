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
- ``RobustnessFilter``: keeps the features robust to perturbations (ICC lower
  bound), their ICCs computed from the training rows' patients only.
- ``ComBatHarmonizer``: ComBat harmonisation by site (parametric empirical
  Bayes, neuroCombat's arithmetic), learnt on the training rows and applied to
  the others; consumes the site column.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_selection import SelectorMixin, f_classif
from sklearn.utils.validation import check_is_fitted, validate_data

from ..io.errors import InputError, SettingsError


class _Selector(SelectorMixin, BaseEstimator):
    """A feature selector over a numeric matrix; subclasses set ``support_``."""

    def _get_support_mask(self) -> np.ndarray:
        check_is_fitted(self, "support_")
        return self.support_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags


def dominant_fraction(X: np.ndarray) -> np.ndarray:
    """Per column, the share of its non-NaN values taken by its most frequent value (1 for an all-NaN column).

    All columns at once: sorted, equal neighbours form runs, and the longest run is counted with one bincount
    (a loop of np.unique per column cost 2 s of the demo's training, over its 2,000 columns and 150 fits)."""
    n, m = X.shape
    ordered = np.sort(X, axis=0)  # NaN last
    valid = ~np.isnan(ordered)
    starts = np.ones_like(ordered, dtype=bool)
    starts[1:] = ordered[1:] != ordered[:-1]
    runs = np.cumsum(starts, axis=0) + np.arange(m) * (n + 1)  # run ids, disjoint between columns
    longest = np.bincount(runs[valid], minlength=(n + 1) * m).reshape(m, n + 1).max(axis=1)
    present = valid.sum(axis=0)
    return np.where(present > 0, longest / np.maximum(present, 1), 1.0)


class NearConstantFilter(_Selector):
    """Drop features whose most frequent value (NaN ignored) covers more than ``max_fraction`` of the rows."""

    def __init__(self, max_fraction: float = 0.95) -> None:
        self.max_fraction = max_fraction

    def fit(self, X, y=None) -> "NearConstantFilter":
        X = validate_data(self, X, ensure_all_finite="allow-nan", dtype=float)
        self.dominant_fraction_ = dominant_fraction(X)
        self.support_ = self.dominant_fraction_ <= self.max_fraction
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


def combat_estimates(values: np.ndarray, sites: np.ndarray, empirical_bayes: bool = True,
                     tolerance: float = 1e-4) -> dict:
    """ComBat's location/scale estimates per site (Johnson, Li & Rabinovic 2007; no covariates), as
    neuroCombat computes them: features standardised by the pooled variance around the size-weighted
    grand mean, site effects shrunk towards their mean over features by parametric empirical Bayes.

    ``values``: rows x features, complete; ``sites``: the site of each row.
    """
    levels, codes = np.unique(sites, return_inverse=True)
    counts = np.bincount(codes)
    means = np.vstack([values[codes == b].mean(axis=0) for b in range(len(levels))])
    grand_mean = (counts / counts.sum()) @ means
    var_pooled = ((values - means[codes]) ** 2).mean(axis=0)
    standardised = (values - grand_mean) / np.sqrt(var_pooled)
    gamma_hat = np.vstack([standardised[codes == b].mean(axis=0) for b in range(len(levels))])
    delta_hat = np.vstack([standardised[codes == b].var(axis=0, ddof=1) for b in range(len(levels))])
    if empirical_bayes:
        gamma_star, delta_star = np.empty_like(gamma_hat), np.empty_like(delta_hat)
        for b in range(len(levels)):
            gamma_bar, tau2 = gamma_hat[b].mean(), gamma_hat[b].var(ddof=1)
            m, s2 = delta_hat[b].mean(), delta_hat[b].var(ddof=1)
            a_prior, b_prior = (2 * s2 + m ** 2) / s2, (m * s2 + m ** 3) / s2
            rows = standardised[codes == b]
            n = rows.shape[0]
            gamma, delta = gamma_hat[b].copy(), delta_hat[b].copy()
            for _ in range(1000):  # neuroCombat's it_sol: alternate the two posterior means to convergence
                gamma_new = (tau2 * n * gamma_hat[b] + delta * gamma_bar) / (tau2 * n + delta)
                delta_new = (b_prior + 0.5 * ((rows - gamma_new) ** 2).sum(axis=0)) / (n / 2.0 + a_prior - 1.0)
                change = max(np.max(np.abs(gamma_new - gamma) / np.abs(gamma)),
                             np.max(np.abs(delta_new - delta) / delta))
                gamma, delta = gamma_new, delta_new
                if change <= tolerance:
                    break
            gamma_star[b], delta_star[b] = gamma, delta
    else:
        gamma_star, delta_star = gamma_hat, delta_hat
    return {"sites": [str(level) for level in levels], "grand_mean": grand_mean, "var_pooled": var_pooled,
            "gamma": gamma_star, "delta": delta_star}


def combat_apply(values: np.ndarray, sites: np.ndarray, estimates: dict) -> np.ndarray:
    """Harmonise rows (of sites seen in training) with ComBat estimates."""
    index = np.array([estimates["sites"].index(str(site)) for site in sites])
    standardised = (values - estimates["grand_mean"]) / np.sqrt(estimates["var_pooled"])
    adjusted = (standardised - estimates["gamma"][index]) / np.sqrt(estimates["delta"][index])
    return adjusted * np.sqrt(estimates["var_pooled"]) + estimates["grand_mean"]


class ComBatHarmonizer(TransformerMixin, BaseEstimator):
    """ComBat harmonisation by site: estimates learnt on the training rows, applied to any rows.

    Input: a DataFrame with the features and a ``site_column``; output: the
    harmonised features, without the site column. Missing values stay missing
    (imputed later in the pipeline) and are filled with the training median for
    the estimation only. Features without variance in some training site are
    passed through unchanged. A site not seen in training is an error: ComBat
    has no estimate for it. (Our implementation of neuroCombat's arithmetic —
    neuroHarmonize, which wraps it, pins NumPy below 2 — checked against
    neuroCombat in the tests.)
    """

    def __init__(self, site_column: str = "site", empirical_bayes: bool = True) -> None:
        self.site_column = site_column
        self.empirical_bayes = empirical_bayes

    def _split(self, X) -> tuple[pd.DataFrame, np.ndarray]:
        if not isinstance(X, pd.DataFrame) or self.site_column not in X.columns:
            raise InputError(f"ComBat needs the site column '{self.site_column}' beside the features",
                             hint="name the site column with --site (it must be in the table)")
        sites = X[self.site_column].astype(str).to_numpy()
        return X.drop(columns=[self.site_column]).astype(float), sites

    def fit(self, X, y=None) -> "ComBatHarmonizer":
        features, sites = self._split(X)
        levels, counts = np.unique(sites, return_counts=True)
        if len(levels) < 2:
            raise InputError(f"ComBat needs at least two sites, the training rows have {len(levels)}",
                             hint="drop --harmonize, or check the site column")
        if counts.min() < 2:
            raise InputError(f"site(s) {', '.join(levels[counts < 2])} have a single training row",
                             hint="ComBat estimates a mean and a variance per site: merge small sites")
        self.feature_names_in_ = np.array(features.columns, dtype=object)
        self.n_features_in_ = X.shape[1]
        values = features.to_numpy()
        self.medians_ = np.nanmedian(values, axis=0)
        filled = np.where(np.isnan(values), self.medians_, values)
        spread = np.vstack([filled[sites == level].std(axis=0) for level in levels])
        self.harmonized_ = np.nan_to_num(spread).min(axis=0) > 0
        self.sites_ = [str(level) for level in levels]
        self.estimates_ = (combat_estimates(filled[:, self.harmonized_], sites, self.empirical_bayes)
                           if self.harmonized_.sum() >= 2 else None)
        return self

    def transform(self, X) -> pd.DataFrame:
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
        values = features[list(self.feature_names_in_)].to_numpy().copy()
        if self.estimates_ is not None:
            nan = np.isnan(values)
            filled = np.where(nan, self.medians_, values)
            values[:, self.harmonized_] = combat_apply(filled[:, self.harmonized_], sites, self.estimates_)
            values[nan] = np.nan
        return pd.DataFrame(values, index=X.index, columns=self.feature_names_in_)

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        check_is_fitted(self, "harmonized_")
        return self.feature_names_in_.copy()


class RobustnessFilter(_Selector):
    """Keep the features whose ICC(1,1) lower 95% bound reaches ``threshold``, computed from the repeated
    measurements (``repeated``: a robustness table, one row per case, ROI and perturbation) of the
    *training* rows' subjects only: ``subjects`` names each row of the modelling table (``case_id|roi``, by
    the row's index), so a fold's held-out patients' perturbations never inform what it keeps."""

    def __init__(self, repeated: pd.DataFrame | None = None, subjects: np.ndarray | None = None,
                 threshold: float = 0.75) -> None:
        self.repeated = repeated
        self.subjects = subjects
        self.threshold = threshold

    def fit(self, X, y=None) -> "RobustnessFilter":
        from ..robustness.agreement import icc1_bounds

        if not isinstance(X, pd.DataFrame):
            raise SettingsError("the robustness filter must be the pipeline's first step (it reads row names)")
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.n_features_in_ = X.shape[1]
        training = set(np.asarray(self.subjects)[X.index.to_numpy()])
        rows = self.repeated[self.repeated["subject"].isin(training)]
        measured = [c for c in X.columns if c in rows.columns]
        cube = rows.pivot_table(index="subject", columns="perturbation", values=measured, aggfunc="first")
        repeats = sorted(set(cube.columns.get_level_values(1)))
        cube = cube.reindex(columns=pd.MultiIndex.from_product([measured, repeats])).dropna()  # features in order
        self.subjects_ = sorted(cube.index)
        if len(cube) < 3:
            raise InputError(f"the robustness table holds {len(cube)} of this fold's training subjects: "
                             "too few for an ICC", hint="extract the robustness table for the training cohort "
                                                        "(radiomics-workshop robustness on its manifest)")
        values = cube.to_numpy(dtype=float).reshape(len(cube), len(measured), -1).transpose(0, 2, 1)
        _, low, _ = icc1_bounds(values)
        passed = dict(zip(measured, np.nan_to_num(low, nan=-np.inf) >= self.threshold))
        self.support_ = np.array([passed.get(c, False) for c in X.columns])
        if not self.support_.any():
            raise InputError(f"no feature reaches an ICC lower bound of {self.threshold} on this fold's patients",
                             hint="lower --robust-icc, or check the robustness table")
        self.icc_low_ = dict(zip(measured, low))
        return self

    def forget_measurements(self) -> None:
        """Drop the robustness table from a fitted filter (a saved model keeps what it selected, not the data)."""
        self.repeated, self.subjects = None, None
