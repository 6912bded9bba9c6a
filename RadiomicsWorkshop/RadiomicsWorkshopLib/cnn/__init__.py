"""The end-to-end CNN classifier (train-cnn, predict-cnn), as MONAI bundles, on the shared training loop."""
