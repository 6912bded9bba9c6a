"""DICOM structured reports: a TID 1500 measurement report of one case's features (highdicom's
Comprehensive 3D SR), one measurement group per ROI, each referencing its segment of a DICOM SEG and the
image series; and the numbers read back from such a report.

Each feature is a coded measurement: its code (the IBSI's where the caller has one, else a private scheme
the caller names), its value and its UCUM unit; the group and each measurement carry the algorithm's name
and version.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from . import series as series_module

#: The coding scheme of the IBSI's feature identifiers (each a four-letter code, e.g. RNU0: volume (mesh)).
IBSI_SCHEME = "IBSI"
#: The procedure reported, by the image's modality (LOINC; SNOMED CT's "imaging procedure" otherwise).
PROCEDURES = {"CT": ("25045-6", "LN", "CT unspecified body region"),
              "MR": ("25056-3", "LN", "MRI unspecified body region"),
              "PT": ("44136-0", "LN", "PET unspecified body region"), "": ("363679005", "SCT", "Imaging")}
#: Our private coding scheme for features the IBSI does not define (a "99" prefix: private, PS3.16 8.2).
PRIVATE_SCHEME = "99RADWS"


@dataclass(frozen=True)
class Feature:
    """One measurement: the column's name, its value, its code (value, scheme) and its UCUM unit."""

    name: str
    value: float
    code: tuple[str, str]
    unit: str = "1"


@dataclass(frozen=True)
class RoiMeasurements:
    """One ROI's features and the segment (of a SEG written beside the report) that outlines it."""

    roi: str
    segment_number: int
    features: Sequence[Feature]


def write_report(path: str | Path, series_files: Sequence[str], seg_path: str | Path,
                 groups: Sequence[RoiMeasurements], *, algorithm: str, version: str) -> Path:
    """A TID 1500 report of ``groups`` on the image series ``series_files``, each group referencing its
    segment of the SEG at ``seg_path``."""
    hd = series_module.highdicom()
    import pydicom
    from pydicom.sr.codedict import codes

    source = pydicom.dcmread(series_files[0], stop_before_pixels=True)
    seg = pydicom.dcmread(str(seg_path), stop_before_pixels=True)
    algorithm_id = hd.sr.AlgorithmIdentification(name=algorithm, version=version)
    measurement_groups = []
    for group in groups:
        measurements = [hd.sr.Measurement(
            name=hd.sr.CodedConcept(value=f.code[0], scheme_designator=f.code[1], meaning=f.name[:64]),
            value=float(f.value), unit=hd.sr.CodedConcept(value=f.unit, scheme_designator="UCUM", meaning=f.unit),
            algorithm_id=algorithm_id) for f in group.features]
        measurement_groups.append(hd.sr.VolumetricROIMeasurementsAndQualitativeEvaluations(
            tracking_identifier=hd.sr.TrackingIdentifier(identifier=f"ROI {group.roi}", uid=hd.UID()),
            referenced_segment=hd.sr.ReferencedSegment(
                sop_class_uid=seg.SOPClassUID, sop_instance_uid=seg.SOPInstanceUID,
                segment_number=group.segment_number,
                source_series=hd.sr.SourceSeriesForSegmentation(source.SeriesInstanceUID)),
            algorithm_id=algorithm_id, measurements=measurements))
    report = hd.sr.MeasurementReport(
        observation_context=hd.sr.ObservationContext(
            observer_device_context=hd.sr.ObserverContext(
                observer_type=codes.DCM.Device,
                observer_identifying_attributes=hd.sr.DeviceObserverIdentifyingAttributes(
                    uid=hd.UID(), name=algorithm, model_name=version))),
        procedure_reported=hd.sr.CodedConcept(*PROCEDURES.get(str(source.Modality), PROCEDURES[""])),
        imaging_measurements=measurement_groups)
    evidence = [pydicom.dcmread(f, stop_before_pixels=True) for f in series_files] + [seg]
    sr = hd.sr.Comprehensive3DSR(
        evidence=evidence, content=report, series_instance_uid=hd.UID(), series_number=101,
        sop_instance_uid=hd.UID(), instance_number=1, manufacturer="RadiomicsWorkshop", is_complete=True,
        series_description=f"{algorithm} radiomics features")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sr.save_as(str(path))
    return path


def read_report(path: str | Path) -> dict[str, dict[str, float]]:
    """ROI tracking identifier -> feature name -> value, as highdicom parses a report back."""
    hd = series_module.highdicom()
    import pydicom

    sr = hd.sr.srread(str(path)) if hasattr(hd.sr, "srread") else hd.sr.Comprehensive3DSR.from_dataset(
        pydicom.dcmread(str(path)))
    out = {}
    for group in sr.content.get_volumetric_roi_measurement_groups():
        out[group.tracking_identifier] = {m.name.meaning: m.value for m in group.get_measurements()}
    return out
