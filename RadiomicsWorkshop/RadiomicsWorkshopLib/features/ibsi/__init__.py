"""The IBSI-1 feature families PyRadiomics lacks, and the mapping of our columns onto the IBSI reference values."""
