"""MRML nodes <-> the files the core reads and writes, with Slicer's MRML storage nodes and logic classes.

Nothing here needs Slicer's Qt application (no ``slicer.app``, ``slicer.util.loadVolume``/``exportNode``,
which go through Qt's IO manager): every class used is in Slicer and in Kitware's ``slicer-core`` wheel,
so the tests run this module against Slicer's real MRML code (Testing/slicer_module/test_slicer_nodes.py). Each function
takes the scene it works in.

- volume, label map -> NRRD (vtkMRMLVolumeArchetypeStorageNode); segmentation -> ``.seg.nrrd``
  (vtkMRMLSegmentationStorageNode: segment names, IDs, layers of overlapping segments, extents);
  a transformed node is written in world coordinates (a hardened copy), where the user sees it;
- NRRD -> volume; label map file -> segments of a segmentation, named (vtkSlicerSegmentationsModuleLogic);
- the core's CSV -> vtkMRMLTableNode, key columns as text and every other column as numbers; and back,
  value for value;
- (x, y) column pairs of a table -> a plot chart.
"""

from __future__ import annotations

import csv
import math
import os
from typing import Optional

import slicer
import vtk
from RadiomicsWorkshopLib import commands

# Columns that identify a row (text); every other column of the core's tables is a number.
KEY_COLUMNS = commands.IDENTIFIERS


class NodeFileError(RuntimeError):
    """A node could not be written to, or read from, a file."""


def _storageFor(node, path: str):
    storage = node.CreateDefaultStorageNode()
    storage.SetFileName(path)
    return storage


def _worldCopy(scene, node):
    """A copy of a transformed node with its transform hardened (applied), for writing in world coordinates."""
    copy = scene.AddNewNodeByClass(node.GetClassName(), scene.GenerateUniqueName(f"{node.GetName()} (world)"))
    copy.Copy(node)
    copy.SetAndObserveTransformNodeID(node.GetTransformNodeID())
    if not slicer.vtkSlicerTransformLogic.hardenTransform(copy):
        scene.RemoveNode(copy)
        raise NodeFileError(f"Could not apply the transform of {node.GetName()} before writing it.")
    return copy


def writeNode(scene, node, path: str) -> str:
    """Write a volume, label map or segmentation node to ``path`` (uncompressed: a temporary file) without
    changing where the scene saves it; in world coordinates when the node is transformed."""
    copy = _worldCopy(scene, node) if node.GetParentTransformNode() is not None else None
    try:
        storage = _storageFor(copy or node, path)
        storage.SetUseCompression(False)
        if not storage.WriteData(copy or node):
            raise NodeFileError(f"Failed to write {node.GetName()} to {path}.")
    finally:
        if copy is not None:
            scene.RemoveNode(copy)
    return path


def writeInputs(scene, folder: str, volumeNode, roiNode) -> tuple[str, Optional[str]]:
    """The volume as NRRD; a segmentation as .seg.nrrd (segment names, IDs and overlaps kept), a label
    map as NRRD. Returns (image file, mask file or None)."""
    if volumeNode is None:
        raise ValueError("Select a volume.")
    imageFile = writeNode(scene, volumeNode, os.path.join(folder, "image.nrrd"))
    if roiNode is None:
        return imageFile, None
    if roiNode.IsA("vtkMRMLSegmentationNode"):
        segmentation = roiNode.GetSegmentation()
        if segmentation.GetNumberOfSegments() == 0:
            raise ValueError(f"The segmentation {roiNode.GetName()} has no segments: draw the ROI in Segment Editor.")
        if not segmentation.IsSourceRepresentationImageData():
            raise ValueError(f"The segmentation {roiNode.GetName()} is stored as surfaces: in the Segmentations "
                             "module, make 'Binary labelmap' its source representation.")
        return imageFile, writeNode(scene, roiNode, os.path.join(folder, "mask.seg.nrrd"))
    return imageFile, writeNode(scene, roiNode, os.path.join(folder, "mask.nrrd"))


def readVolume(scene, path: str, targetNode=None, name: str = "Volume", labelMap: bool = False):
    """Load a volume file into ``targetNode`` (a new scalar volume, or label map, when None): image data and
    geometry. No storage node is left pointing at ``path`` (a temporary file the caller removes): saving
    the scene then writes the node anew."""
    if targetNode is None:
        targetNode = scene.AddNewNodeByClass("vtkMRMLLabelMapVolumeNode" if labelMap else "vtkMRMLScalarVolumeNode",
                                             scene.GenerateUniqueName(name))
    storage = slicer.vtkMRMLVolumeArchetypeStorageNode()
    storage.SetFileName(path)
    storage.SetSingleFile(True)
    storage.SetCenterImage(False)
    if not storage.ReadData(targetNode):
        raise NodeFileError(f"Failed to read the volume {path}.")
    targetNode.CreateDefaultDisplayNodes()
    return targetNode


def importLabelMap(scene, labelMapNode, segmentationNode, names: Optional[dict] = None):
    """A label map node's labels as segments of ``segmentationNode`` (its segments replaced), each named from
    ``names`` (label value as text -> name) where given."""
    segmentationNode.GetSegmentation().RemoveAllSegments()
    if not slicer.vtkSlicerSegmentationsModuleLogic.ImportLabelmapToSegmentationNode(labelMapNode, segmentationNode):
        raise NodeFileError(f"Failed to import the label map {labelMapNode.GetName()} into a segmentation.")
    segmentation = segmentationNode.GetSegmentation()
    for index in range(segmentation.GetNumberOfSegments()):
        segment = segmentation.GetNthSegment(index)
        name = (names or {}).get(str(segment.GetLabelValue()))
        if name:
            segment.SetName(name)
    return segmentationNode


def readLabelMapAsSegmentation(scene, path: str, referenceVolumeNode, segmentationNode=None,
                               names: Optional[dict] = None, name: str = "Segmentation"):
    """A label map file as a segmentation node on the reference volume's geometry, one named segment per label."""
    labelMapNode = readVolume(scene, path, name="labels (temporary)", labelMap=True)
    try:
        if segmentationNode is None:
            segmentationNode = scene.AddNewNodeByClass("vtkMRMLSegmentationNode", scene.GenerateUniqueName(name))
            segmentationNode.CreateDefaultDisplayNodes()
        if referenceVolumeNode is not None:
            segmentationNode.SetReferenceImageGeometryParameterFromVolumeNode(referenceVolumeNode)
        return importLabelMap(scene, labelMapNode, segmentationNode, names)
    finally:
        scene.RemoveNode(labelMapNode)


def writeVisibleSegmentsAsLabelMap(scene, segmentationNode, referenceVolumeNode, path: str) -> str:
    """A segmentation's visible segments as a label map file on the reference volume's grid."""
    labelMapNode = scene.AddNewNodeByClass("vtkMRMLLabelMapVolumeNode")
    try:
        if not slicer.vtkSlicerSegmentationsModuleLogic.ExportVisibleSegmentsToLabelmapNode(
                segmentationNode, labelMapNode, referenceVolumeNode):
            raise NodeFileError(f"Failed to export {segmentationNode.GetName()} as a label map.")
        return writeNode(scene, labelMapNode, path)
    finally:
        scene.RemoveNode(labelMapNode)


def _numbers(values: list[str]) -> Optional[list[float]]:
    """Every value as a number (empty: NaN), or None when one is not a number."""
    try:
        return [float(value) if value.strip() else math.nan for value in values]
    except ValueError:
        return None


def readTable(scene, csvFile: str, tableNode=None, name: str = "Features"):
    """The core's CSV as a table node: key columns as text, every other column as numbers (vtkDoubleArray)
    when all its values are numbers, else as text."""
    with open(csvFile, newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    if not rows:
        raise NodeFileError(f"The core wrote an empty table: {csvFile}")
    header, records = rows[0], rows[1:]
    if tableNode is None:
        tableNode = scene.AddNewNodeByClass("vtkMRMLTableNode", scene.GenerateUniqueName(name))
    wasModified = tableNode.StartModify()
    tableNode.RemoveAllColumns()
    for index, column in enumerate(header):
        values = [record[index] if index < len(record) else "" for record in records]
        numbers = None if column in KEY_COLUMNS else _numbers(values)
        array = vtk.vtkStringArray() if numbers is None else vtk.vtkDoubleArray()
        for value in (values if numbers is None else numbers):
            array.InsertNextValue(value)
        array.SetName(column)
        tableNode.AddColumn(array)
    tableNode.SetUseColumnNameAsColumnHeader(True)
    tableNode.EndModify(wasModified)
    return tableNode


def _text(array, row: int) -> str:
    if array.IsA("vtkDataArray"):
        value = array.GetTuple1(row)
        return "" if math.isnan(value) else repr(float(value))
    return array.GetValue(row)


def writeTable(tableNode, path: str) -> str:
    """A table node as the core's CSV: one column per table column, numbers written exactly (``repr``), NaN empty."""
    table = tableNode.GetTable()
    columns = [table.GetColumn(index) for index in range(table.GetNumberOfColumns())]
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow([column.GetName() for column in columns])
        for row in range(table.GetNumberOfRows()):
            writer.writerow([_text(column, row) for column in columns])
    return path


def columnNames(tableNode) -> list[str]:
    return [tableNode.GetColumnName(index) for index in range(tableNode.GetNumberOfColumns())]


def featureCount(tableNode) -> int:
    return sum(1 for name in columnNames(tableNode) if name not in KEY_COLUMNS)


def plotChart(scene, tableNode, title: str, xTitle: str, yTitle: str, pairs: list[tuple[str, str]]):
    """A plot chart of (x column, y column) pairs of a table node, drawn as lines."""
    chart = scene.AddNewNodeByClass("vtkMRMLPlotChartNode", scene.GenerateUniqueName(title))
    chart.SetTitle(title)
    chart.SetXAxisTitle(xTitle)
    chart.SetYAxisTitle(yTitle)
    for xColumn, yColumn in pairs:
        series = scene.AddNewNodeByClass("vtkMRMLPlotSeriesNode", f"{title}: {yColumn}")
        series.SetAndObserveTableNodeID(tableNode.GetID())
        series.SetXColumnName(xColumn)
        series.SetYColumnName(yColumn)
        series.SetPlotType(slicer.vtkMRMLPlotSeriesNode.PlotTypeScatter)
        series.SetMarkerStyle(slicer.vtkMRMLPlotSeriesNode.MarkerStyleNone)
        chart.AddAndObservePlotSeriesNodeID(series.GetID())
    return chart


def modelCharts(scene, rocCsv: str, calibrationCsv: str) -> tuple:
    """The cross-validated ROC curve (with its CI band) and calibration plot charts, from the core's
    roc.csv and calibration.csv."""
    roc = readTable(scene, rocCsv, name="Model ROC")
    rocChart = plotChart(scene, roc, "ROC (cross-validation)", "1 - specificity", "Sensitivity",
                         [("false_positive_rate", column) for column in columnNames(roc)
                          if column != "false_positive_rate"])
    calibration = readTable(scene, calibrationCsv, name="Model calibration")
    pairs = [(column, "observed_" + column[len("predicted_"):]) for column in columnNames(calibration)
             if column.startswith("predicted_")] + [("perfect", "perfect")]
    calibrationChart = plotChart(scene, calibration, "Calibration (cross-validation)", "Predicted probability",
                                 "Observed frequency", pairs)
    return rocChart, calibrationChart
