"""Feature robustness: perturbations of a case (image and ROI), and the agreement of features across them."""
