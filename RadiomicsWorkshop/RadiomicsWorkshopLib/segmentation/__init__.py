"""MONAI auto-segmentation: the network and bundle, training, inference, and the segmentation metrics."""
