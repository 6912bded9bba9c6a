"""PCA of the deep features, as a scikit-learn transformer.

Deep feature vectors are long (512 to 4096) and strongly correlated; PCA
reduces them. It must be fitted on training data only: as a step of the
model's scikit-learn Pipeline it is refitted inside every cross-validation
fold and saved with the final model, so it never sees a test case.
Radiomics and clinical columns pass through untouched.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.decomposition import PCA
from sklearn.utils.validation import check_is_fitted

from ..io.errors import InputError


class DeepFeaturePCA(TransformerMixin, BaseEstimator):
    """Replace the ``prefix`` columns of a DataFrame by ``<prefix>pca_<k>`` principal components.

    ``n_components``: an int, or a fraction of variance to keep (0.95), as in scikit-learn's PCA.
    """

    def __init__(self, n_components: int | float = 0.95, prefix: str = "deep_", whiten: bool = False,
                 random_state: int = 0) -> None:
        self.n_components = n_components
        self.prefix = prefix
        self.whiten = whiten
        self.random_state = random_state

    def fit(self, X: pd.DataFrame, y=None) -> "DeepFeaturePCA":
        if not isinstance(X, pd.DataFrame):
            raise InputError("DeepFeaturePCA needs a DataFrame (it selects the deep_ columns by name)")
        self.columns_ = [c for c in X.columns if str(c).startswith(self.prefix)]
        if not self.columns_:
            raise InputError(f"no column starts with '{self.prefix}'", hint="merge the deep feature table first")
        self.pca_ = PCA(n_components=self.n_components, whiten=self.whiten, random_state=self.random_state)
        self.pca_.fit(X[self.columns_].to_numpy(dtype=float))
        self.feature_names_in_ = np.array(X.columns, dtype=object)
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        check_is_fitted(self, "pca_")
        missing = [c for c in self.columns_ if c not in X.columns]
        if missing:
            raise InputError(f"{len(missing)} deep feature column(s) the PCA was fitted on are missing "
                             f"(e.g. {', '.join(missing[:3])})", hint="use the same model and settings as in training")
        components = self.pca_.transform(X[self.columns_].to_numpy(dtype=float))
        reduced = pd.DataFrame(components, index=X.index,
                               columns=[f"{self.prefix}pca_{k}" for k in range(components.shape[1])])
        return pd.concat([X.drop(columns=self.columns_), reduced], axis=1)

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        check_is_fitted(self, "pca_")
        kept = [c for c in self.feature_names_in_ if c not in self.columns_]
        return np.array(kept + [f"{self.prefix}pca_{k}" for k in range(self.pca_.n_components_)], dtype=object)
