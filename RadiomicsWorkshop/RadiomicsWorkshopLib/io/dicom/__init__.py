"""DICOM in and out: image series (``series``), RTSTRUCT contours rasterised onto their image (``rtstruct``),
DICOM SEG read and written (``seg``, highdicom) and TID 1500 measurement reports (``sr``, highdicom)."""
