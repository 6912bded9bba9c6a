"""Our feature engine: PyRadiomics' feature classes computed by us (``shape`` ...)."""
