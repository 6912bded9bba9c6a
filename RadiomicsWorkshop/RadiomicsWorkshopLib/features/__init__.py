"""Radiomics features of one case: PyRadiomics' classes, our IBSI families, presets, the ROI crop."""
