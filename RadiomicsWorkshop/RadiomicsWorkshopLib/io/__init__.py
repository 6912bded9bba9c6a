"""Files and checks every layer uses: images and masks, manifests, tables, provenance, progress, errors, key columns."""
