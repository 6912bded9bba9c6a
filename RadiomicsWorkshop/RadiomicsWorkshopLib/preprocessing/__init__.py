"""Image preprocessing with SimpleITK: the filters, and recipes (with their sidecars) that chain them."""
