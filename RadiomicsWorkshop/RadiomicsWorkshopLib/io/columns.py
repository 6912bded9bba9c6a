"""The columns with a meaning of their own in the core's tables: defined here once, read by every module
that needs them (and by the Slicer layer, through commands.py). No imports: a module of constants."""

ROW_KEY = ("case_id", "roi")  # a feature table's key: one row per case and ROI
SLICE = "slice"  # slice-wise extraction adds the slice index to the key
REPETITION = "perturbation"  # robustness tables: which perturbation (or reader, session) a row was measured under
IDENTIFIERS = ("case_id", "roi", SLICE, "patient_id", REPETITION)  # columns that identify a row: never features
MANIFEST_PATHS = ("image", "mask")  # a manifest's file columns
CASE_ATTRIBUTES = ("label", "site")  # a manifest's outcome and scanner/centre columns
TEXT_COLUMNS = tuple(c for c in IDENTIFIERS if c != SLICE) + MANIFEST_PATHS + CASE_ATTRIBUTES  # read as text
