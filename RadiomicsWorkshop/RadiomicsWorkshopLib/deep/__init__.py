"""Deep features from pretrained networks, their reduction, and what every network of the core shares: the training loop, the device, the names."""
