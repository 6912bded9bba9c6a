"""IBSI-2: the standardised convolutional filters (mean, LoG, Laws, Gabor, wavelets, Simoncelli, Riesz)."""
