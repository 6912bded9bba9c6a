"""Models on feature tables: the scikit-learn / imbalanced-learn Pipeline, patient-level validation, the model folder, reports and comparisons."""
