"""The worked examples: the whole-workflow demo, generated phantom cohorts, PyRadiomics' sample cases."""
