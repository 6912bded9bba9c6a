"""The slicer-core lane: the module's node handling run against Slicer's real MRML and logic classes.

``RadiomicsWorkshopSlicerLib.nodes`` is what RadiomicsWorkshop.py's Logic calls to turn nodes into the
files the core reads, and the core's files back into nodes. Here it runs in a real ``vtkMRMLScene`` of
Kitware's ``slicer-core`` wheel (Slicer's MRML, Segmentations, Volumes, Tables and Plots logic without
Qt), on PyRadiomics' five sample cases, and what it writes is read by the core itself
(``RadiomicsWorkshopLib.io.images.read_rois``, ``validation.align_mask``) and compared voxel for voxel,
in physical space, with the original files; tables value for value.
"""

from __future__ import annotations

import math
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk

slicer = pytest.importorskip("slicer", reason="the slicer-core wheel (requirements-dev.txt) is not installed")
import vtk  # noqa: E402  (slicer-core's VTK)
from conftest import SAMPLE_CASES  # noqa: E402
from RadiomicsWorkshopLib.io.images import read_rois  # noqa: E402
from RadiomicsWorkshopLib.io.validation import align_mask  # noqa: E402
from RadiomicsWorkshopSlicerLib import nodes  # noqa: E402
from vtk.util import numpy_support  # noqa: E402

if not hasattr(slicer, "vtkMRMLScene"):
    pytest.fail("`import slicer` is not slicer-core's MRML package", pytrace=False)


@pytest.fixture()
def scene():
    """A scene as Slicer's application sets it up for these node types: the Segmentations module's logic on the
    scene registers its nodes and the segmentation converter rules (vtkSlicerSegmentationsModuleLogic::RegisterNodes,
    v5.10.0), which copying a segmentation needs."""
    scene = slicer.vtkMRMLScene()
    segmentations = slicer.vtkSlicerSegmentationsModuleLogic()
    segmentations.SetMRMLScene(scene)
    yield scene
    segmentations.SetMRMLScene(None)
    scene.Clear(True)


def _on_grid(image: sitk.Image, reference: sitk.Image) -> np.ndarray:
    """``image`` sampled on ``reference``'s voxel grid (nearest neighbour: a lossless reindexing when both
    grids hold the same voxel centres)."""
    return sitk.GetArrayFromImage(sitk.Resample(image, reference, sitk.Transform(), sitk.sitkNearestNeighbor, 0,
                                                image.GetPixelID()))


def _same_grid(a: sitk.Image, b: sitk.Image) -> bool:
    """Same voxel centres in physical space (the index order may differ: Slicer may store slices reversed)."""
    def corners(image):
        size = image.GetSize()
        points = [image.TransformIndexToPhysicalPoint([i * (s - 1) for i, s in zip(bits, size)])
                  for bits in np.ndindex(2, 2, 2)]
        return sorted(tuple(round(c, 4) for c in p) for p in points)
    return corners(a) == corners(b) and np.allclose(sorted(a.GetSpacing()), sorted(b.GetSpacing()))


def _label_map_node(scene, reference_node, array: np.ndarray, name: str):
    """A label map node on the reference volume's geometry from a (k, j, i) array."""
    node = scene.AddNewNodeByClass("vtkMRMLLabelMapVolumeNode", name)
    image = vtk.vtkImageData()
    image.SetDimensions(array.shape[2], array.shape[1], array.shape[0])
    image.GetPointData().SetScalars(numpy_support.numpy_to_vtk(array.ravel().astype(np.uint8), deep=True))
    node.SetAndObserveImageData(image)
    matrix = vtk.vtkMatrix4x4()
    reference_node.GetIJKToRASMatrix(matrix)
    node.SetIJKToRASMatrix(matrix)
    return node


def _array(node) -> np.ndarray:
    dims = node.GetImageData().GetDimensions()
    return numpy_support.vtk_to_numpy(node.GetImageData().GetPointData().GetScalars()).reshape(dims[::-1])


@pytest.mark.parametrize("case", SAMPLE_CASES)
def test_volume_and_label_map_round_trip(case, scene, sample_case, tmp_path):
    image_file, label_file = sample_case(case)
    volume = nodes.readVolume(scene, str(image_file), name=case)
    labels = nodes.readVolume(scene, str(label_file), name=f"{case} labels", labelMap=True)
    assert labels.IsA("vtkMRMLLabelMapVolumeNode")
    written_image, written_mask = nodes.writeInputs(scene, str(tmp_path), volume, labels)
    original, original_labels = sitk.ReadImage(str(image_file)), sitk.ReadImage(str(label_file))
    ours, our_labels = sitk.ReadImage(written_image), sitk.ReadImage(written_mask)
    assert _same_grid(ours, original) and _same_grid(our_labels, original_labels)
    np.testing.assert_array_equal(_on_grid(ours, original), sitk.GetArrayFromImage(original))
    np.testing.assert_array_equal(_on_grid(our_labels, original_labels), sitk.GetArrayFromImage(original_labels))
    # and the core reads the same ROIs from it
    assert [r.label for r in read_rois(written_mask, None)] == [r.label for r in read_rois(label_file, None)]


@pytest.mark.parametrize("case", SAMPLE_CASES)
def test_segmentation_round_trip_through_the_core(case, scene, sample_case, tmp_path):
    image_file, label_file = sample_case(case)
    volume = nodes.readVolume(scene, str(image_file), name=case)
    segmentation = nodes.readLabelMapAsSegmentation(scene, str(label_file), volume, names={"1": "Tumor"})
    assert [segmentation.GetSegmentation().GetNthSegment(i).GetName()
            for i in range(segmentation.GetSegmentation().GetNumberOfSegments())] == ["Tumor"]
    written_image, written_mask = nodes.writeInputs(scene, str(tmp_path), volume, segmentation)
    assert written_mask.endswith(".seg.nrrd")
    (roi,) = read_rois(written_mask, ["Tumor"])
    original_image, original_labels = sitk.ReadImage(str(image_file)), sitk.ReadImage(str(label_file))
    mask, _ = align_mask(sitk.ReadImage(written_image), roi.mask, resample_mask=False, case_id=case,
                         image_file=written_image, mask_file=written_mask)
    expected = sitk.GetArrayFromImage(original_labels) == 1
    np.testing.assert_array_equal(_on_grid(mask, original_image) == roi.label, expected)


def _margin_box(mask: np.ndarray, margin: int = 3) -> np.ndarray:
    """The mask's bounding box grown in-plane by ``margin`` voxels: a second ROI that overlaps the first."""
    k, j, i = np.nonzero(mask)
    box = np.zeros_like(mask)
    box[k.min():k.max() + 1, max(j.min() - margin, 0):j.max() + margin + 1,
        max(i.min() - margin, 0):i.max() + margin + 1] = True
    return box


@pytest.mark.parametrize("case", SAMPLE_CASES)
def test_overlapping_segments_and_reduced_extent(case, scene, sample_case, tmp_path):
    """Two segments that overlap (Slicer stores them in two layers) and a segment far smaller than the image
    (written cropped to its extent): the core reads each back exactly, on the image's grid."""
    image_file, label_file = sample_case(case)
    volume = nodes.readVolume(scene, str(image_file), name=case)
    tumour = sitk.GetArrayFromImage(sitk.ReadImage(str(label_file))) == 1
    shell = _margin_box(tumour)
    segmentation = scene.AddNewNodeByClass("vtkMRMLSegmentationNode", "ROIs")
    segmentation.SetReferenceImageGeometryParameterFromVolumeNode(volume)
    # the label map node holds the file's slice order as Slicer read the volume: build the masks on its grid
    reference_labels = nodes.readVolume(scene, str(label_file), name="labels", labelMap=True)
    on_node_grid = _array(reference_labels) == 1
    shell_node = _margin_box(on_node_grid)
    for name, array in (("Tumor", on_node_grid), ("Margin", shell_node)):
        label_node = _label_map_node(scene, reference_labels, array.astype(np.uint8), name)
        before = segmentation.GetSegmentation().GetNumberOfSegments()
        assert slicer.vtkSlicerSegmentationsModuleLogic.ImportLabelmapToSegmentationNode(label_node, segmentation)
        segmentation.GetSegmentation().GetNthSegment(before).SetName(name)
    segmentation.GetSegmentation().CollapseBinaryLabelmaps(False)  # as Segment Editor does: layers as needed
    assert segmentation.GetSegmentation().GetNumberOfLayers() == 2, "overlapping segments share no layer"
    storage = segmentation.CreateDefaultStorageNode()
    storage.SetCropToMinimumExtent(True)  # Slicer's "crop to minimum extent" option of .seg.nrrd files
    image_path, mask_path = nodes.writeInputs(scene, str(tmp_path), volume, segmentation)
    cropped_path = str(tmp_path / "cropped.seg.nrrd")
    storage.SetFileName(cropped_path)
    storage.SetUseCompression(False)
    assert storage.WriteData(segmentation)
    image = sitk.ReadImage(image_path)
    original_image = sitk.ReadImage(str(image_file))
    expected = {"Tumor": tumour, "Margin": shell}
    for path in (mask_path, cropped_path):
        rois = {roi.name: roi for roi in read_rois(path, ["Tumor", "Margin"])}
        assert set(rois) == {"Tumor", "Margin"}
        for name, roi in rois.items():
            mask, _ = align_mask(image, roi.mask, resample_mask=False, case_id=case, image_file=image_path,
                                 mask_file=path)
            np.testing.assert_array_equal(_on_grid(mask, original_image) == roi.label, expected[name], err_msg=name)
    cropped_size, image_size = sitk.ReadImage(cropped_path).GetSize(), image.GetSize()
    assert all(c <= s for c, s in zip(cropped_size, image_size)) and np.prod(cropped_size) < np.prod(image_size), \
        f"the cropped file ({cropped_size}) is not smaller than the image ({image_size})"
    overlap = np.logical_and(expected["Tumor"], expected["Margin"]).sum()
    assert overlap == expected["Tumor"].sum() > 0


def test_label_map_file_becomes_named_segments(scene, sample_case, tmp_path):
    image_file, label_file = sample_case("lung2")
    labels = sitk.ReadImage(str(label_file))
    array = sitk.GetArrayFromImage(labels).astype(np.uint8)
    array[(array == 0) & (np.roll(array, 4, axis=2) == 1)] = 2  # a second label beside the first
    two = sitk.GetImageFromArray(array)
    two.CopyInformation(labels)
    path = str(tmp_path / "two.nrrd")
    sitk.WriteImage(two, path)
    volume = nodes.readVolume(scene, str(image_file), name="lung2")
    segmentation = nodes.readLabelMapAsSegmentation(scene, path, volume, names={"1": "tumour", "2": "rim"})
    segments = segmentation.GetSegmentation()
    found = {segments.GetNthSegment(i).GetName(): segments.GetNthSegment(i).GetLabelValue()
             for i in range(segments.GetNumberOfSegments())}
    assert found == {"tumour": 1, "rim": 2}
    written_image, written_mask = nodes.writeInputs(scene, str(tmp_path), volume, segmentation)
    for roi in read_rois(written_mask, ["tumour", "rim"]):
        mask, _ = align_mask(sitk.ReadImage(written_image), roi.mask, resample_mask=False, case_id="lung2",
                             image_file=written_image, mask_file=written_mask)
        value = {"tumour": 1, "rim": 2}[roi.name]
        assert (_on_grid(mask, labels) == roi.label).sum() == (array == value).sum()


def test_feature_table_is_numeric_and_round_trips_value_for_value(scene, sample_case, tmp_path):
    from RadiomicsWorkshopLib.features.extraction import extract_case

    image_file, label_file = sample_case("breast1")
    table = extract_case(str(image_file), str(label_file), preset="MR", case_id="breast1")
    table["patient_id"] = "P-007"
    csv_file = tmp_path / "features.csv"
    table.to_csv(csv_file, index=False)
    node = nodes.readTable(scene, str(csv_file))
    assert node.GetNumberOfRows() == len(table) == 1
    for name in nodes.columnNames(node):
        column = node.GetTable().GetColumnByName(name)
        if name in nodes.KEY_COLUMNS:
            assert column.IsA("vtkStringArray"), name
        else:
            assert column.IsA("vtkDoubleArray"), f"{name} is not numeric in the table node"
            expected = float(table[name].iloc[0])
            assert column.GetValue(0) == expected or (math.isnan(expected) and math.isnan(column.GetValue(0))), name
    assert nodes.featureCount(node) == len([c for c in table.columns if c not in nodes.KEY_COLUMNS]) > 100
    back = pd.read_csv(nodes.writeTable(node, str(tmp_path / "back.csv")), dtype={"patient_id": str})
    pd.testing.assert_frame_equal(back, pd.read_csv(csv_file, dtype={"patient_id": str}), check_exact=True)


def test_model_charts_from_the_cores_curves(scene, tmp_path):
    from RadiomicsWorkshopLib.modeling.settings import ModelSettings
    from RadiomicsWorkshopLib.modeling.workflow import train_model

    rng = np.random.default_rng(3)
    table = pd.DataFrame(rng.normal(size=(40, 6)), columns=[f"f{i}" for i in range(6)])
    table.insert(0, "case_id", [f"c{i}" for i in range(40)])
    table["outcome"] = np.where(table["f0"] + 0.5 * rng.normal(size=40) > 0, "high", "low")
    table.to_csv(tmp_path / "features.csv", index=False)
    train_model([tmp_path / "features.csv"], "outcome", tmp_path / "model",
                ModelSettings(k=(3,), outer_folds=3, inner_folds=3, bootstrap=50).check(), report=False)
    roc_chart, calibration_chart = nodes.modelCharts(scene, str(tmp_path / "model" / "roc.csv"),
                                                     str(tmp_path / "model" / "calibration.csv"))
    roc_csv = pd.read_csv(tmp_path / "model" / "roc.csv")
    assert roc_chart.GetNumberOfPlotSeriesNodes() == len(roc_csv.columns) - 1
    for index in range(roc_chart.GetNumberOfPlotSeriesNodes()):
        series = roc_chart.GetNthPlotSeriesNode(index)
        table_node = series.GetTableNode()
        x = numpy_support.vtk_to_numpy(table_node.GetTable().GetColumnByName(series.GetXColumnName()))
        y = numpy_support.vtk_to_numpy(table_node.GetTable().GetColumnByName(series.GetYColumnName()))
        np.testing.assert_array_equal(x, roc_csv["false_positive_rate"].to_numpy())
        np.testing.assert_array_equal(y, roc_csv[series.GetYColumnName()].to_numpy())
    assert calibration_chart.GetNumberOfPlotSeriesNodes() >= 2


def test_transformed_volume_is_written_in_world_coordinates(scene, sample_case, tmp_path):
    image_file, _ = sample_case("brain2")
    volume = nodes.readVolume(scene, str(image_file), name="brain2")
    transform = scene.AddNewNodeByClass("vtkMRMLLinearTransformNode")
    matrix = vtk.vtkMatrix4x4()
    matrix.SetElement(0, 3, 12.5)  # 12.5 mm to the right (RAS): x in LPS decreases by 12.5
    transform.SetMatrixTransformToParent(matrix)
    volume.SetAndObserveTransformNodeID(transform.GetID())
    written = sitk.ReadImage(nodes.writeNode(scene, volume, str(tmp_path / "moved.nrrd")))
    original = sitk.ReadImage(str(image_file))
    shifted = sitk.Image(original)
    shifted.SetOrigin((original.GetOrigin()[0] - 12.5, *original.GetOrigin()[1:]))
    assert _same_grid(written, shifted)
    np.testing.assert_array_equal(_on_grid(written, shifted), sitk.GetArrayFromImage(original))
    assert volume.GetParentTransformNode() is transform, "writing changed the node"
    assert scene.GetNodesByClass("vtkMRMLScalarVolumeNode").GetNumberOfItems() == 1, "a copy was left in the scene"
    assert volume.GetDisplayNode() is not None and scene.GetNodeByID(volume.GetDisplayNodeID()) is not None, \
        "removing the hardened copy took the volume's display node with it"


def test_transformed_segmentation_is_written_in_world_coordinates(scene, sample_case, tmp_path):
    """Volume and segmentation under the same transform: written where the user sees them, they still meet."""
    image_file, label_file = sample_case("breast1")
    volume = nodes.readVolume(scene, str(image_file), name="breast1")
    segmentation = nodes.readLabelMapAsSegmentation(scene, str(label_file), volume, names={"1": "Tumor"})
    segmentation.CreateDefaultDisplayNodes()
    transform = scene.AddNewNodeByClass("vtkMRMLLinearTransformNode")
    matrix = vtk.vtkMatrix4x4()
    matrix.SetElement(2, 3, -20.0)  # 20 mm inferior
    transform.SetMatrixTransformToParent(matrix)
    for node in (volume, segmentation):
        node.SetAndObserveTransformNodeID(transform.GetID())
    image_path, mask_path = nodes.writeInputs(scene, str(tmp_path), volume, segmentation)
    image = sitk.ReadImage(image_path)
    original = sitk.ReadImage(str(image_file))
    (roi,) = read_rois(mask_path, ["Tumor"])
    mask, _ = align_mask(image, roi.mask, resample_mask=False, case_id="breast1", image_file=image_path,
                         mask_file=mask_path)
    moved = sitk.Image(original)
    moved.SetOrigin((*original.GetOrigin()[:2], original.GetOrigin()[2] - 20.0))
    assert _same_grid(image, moved), "the volume was not written 20 mm inferior"
    expected = sitk.GetArrayFromImage(sitk.ReadImage(str(label_file))) == 1
    np.testing.assert_array_equal(_on_grid(mask, moved) == roi.label, expected)
    assert segmentation.GetSegmentation().GetNumberOfSegments() == 1 and segmentation.GetDisplayNode() is not None
    assert scene.GetNodesByClass("vtkMRMLSegmentationNode").GetNumberOfItems() == 1


def test_kill_process_tree_ends_grandchildren():
    """Cancel: PythonSlicer -> Slicer's Python -> the core's workers; every one of them must end."""
    import psutil
    from RadiomicsWorkshopSlicerLib.processes import killProcessTree

    code = ("import subprocess, sys, time; "
            "child = subprocess.Popen([sys.executable, '-c', "
            "'import subprocess, sys, time; subprocess.Popen([sys.executable, \"-c\", \"import time; time.sleep(120)\"]); "
            "time.sleep(120)']); time.sleep(120)")
    process = subprocess.Popen([sys.executable, "-c", code])
    deadline = time.monotonic() + 30
    while len(psutil.Process(process.pid).children(recursive=True)) < 2:
        assert time.monotonic() < deadline, "the process tree did not start"
        time.sleep(0.1)
    family = psutil.Process(process.pid).children(recursive=True)
    killProcessTree(process)
    assert process.poll() is not None
    gone, alive = psutil.wait_procs(family, timeout=10)
    assert not alive, f"left running: {alive}"



# -- the parameter node: its fields' defaults written to and read back from a real vtkMRMLScriptedModuleNode
#
# Slicer's parameterNodeWrapper imports qt and ctk (Base/Python/slicer/parameterNodeWrapper/__init__.py imports
# guiConnectors), so it cannot run without Slicer's application. When it wraps a new node it writes every
# field's default (wrapper.py _initMethod, v5.10.0 l.137-138). How each type is stored, as its serializers do
# it at v5.10.0 (serializers.py): str, int, float, Path -> SetParameter(name, str(value)) (l.261, 299, 338);
# bool -> "True"/"False" (l.372); a node -> SetParameter(name, "") and SetNodeReferenceID(name, id or None)
# (l.408-409); a Union -> the first member type that can hold the value, under "name.<index>" (l.996-1027),
# None only by a None member (NoneSerializer, l.899-934), else TypeError "Unable to write value 'None'".
# A node type's implicit default is None; a Union's is its first member's (l.977-984; defaults.md).

import ast as _ast  # noqa: E402


def _module_namespace() -> dict:
    """The module's top-level constants and helper functions (presetNames() ...), run without Slicer."""
    from conftest import REPO

    path = REPO / "RadiomicsWorkshop" / "RadiomicsWorkshop.py"
    tree = _ast.parse(path.read_text())
    wanted = [node for node in tree.body
              if (isinstance(node, _ast.FunctionDef) and node.name in ("_yamlNames", "presetNames", "recipeNames"))
              or (isinstance(node, _ast.Assign) and all(isinstance(t, _ast.Name) and t.id.isupper() for t in node.targets)
                  and "slicer" not in _ast.unparse(node.value))]
    sys.path.insert(0, str(path.parent))
    from RadiomicsWorkshopLib import commands

    namespace = {"__file__": str(path), "os": __import__("os"), "commands": commands}
    exec(compile(_ast.Module(body=wanted, type_ignores=[]), str(path), "exec"), namespace)
    return namespace, tree


def _fields():
    namespace, tree = _module_namespace()
    cls = next(n for n in tree.body if isinstance(n, _ast.ClassDef) and n.name == "RadiomicsWorkshopParameterNode")
    for item in cls.body:
        if isinstance(item, _ast.AnnAssign):
            annotation = _ast.unparse(item.annotation)
            default = eval(_ast.unparse(item.value), namespace) if item.value is not None else None
            yield item.target.id, annotation, default, namespace


def _members(annotation: str) -> tuple[str, list[str], str]:
    """('Union'|'node'|'plain', member type names, validators) of an annotation's text."""
    inner, validators = annotation, ""
    if annotation.startswith("Annotated["):
        inner, _, validators = annotation[len("Annotated["):-1].partition(", ")
    if inner.startswith(("Union[", "Optional[")):
        members = [m.strip() for m in inner[inner.index("[") + 1:-1].split(",")]
        return "Union", members + (["None"] if inner.startswith("Optional[") else []), validators
    return ("node" if inner.startswith("vtkMRML") else "plain"), [inner], validators


def _write(node, name: str, kind: str, members: list[str], value) -> None:
    if kind == "Union":
        for index, member in enumerate(members):
            if (member == "None" and value is None) or (member.startswith("vtkMRML") and value is not None):
                _write(node, f"{name}.{index}", "plain" if member == "None" else "node", [member],
                       True if member == "None" else value)
                return
        raise TypeError(f"Unable to write value '{value}' of type '{type(value)}'")
    if kind == "node":
        node.SetParameter(name, "")
        node.SetNodeReferenceID(name, value.GetID() if value is not None else None)
    elif members[0] == "bool":
        node.SetParameter(name, "True" if value else "False")
    else:
        node.SetParameter(name, str(value))


def _read(node, name: str, kind: str, members: list[str]):
    if kind == "Union":
        for index, member in enumerate(members):
            key = f"{name}.{index}"
            if member == "None" and node.GetParameter(key):
                return None
            if member.startswith("vtkMRML") and node.GetNodeReferenceID(key) is not None:
                return node.GetNodeReference(key)
        raise KeyError(name)
    if kind == "node":
        return node.GetNodeReference(name)
    text = node.GetParameter(name)
    return {"bool": lambda t: t == "True", "int": int, "float": float, "str": str}[members[0]](text)


def test_parameter_node_defaults_are_written_and_read_back_by_slicers_rules(scene):
    """Defect 2: inputSegmentation was Union[segmentation, label map] without None: its default None cannot be
    written (TypeError in parameterNodeWrapper), so getParameterNode() raised in setup() and enter()."""
    parameter_node = scene.AddNewNodeByClass("vtkMRMLScriptedModuleNode", "RadiomicsWorkshop")
    checked = 0
    for name, annotation, default, namespace in _fields():
        kind, members, validators = _members(annotation)
        supported = {"int", "float", "str", "bool", "None"}
        for member in members:
            assert member in supported or member.startswith("vtkMRML"), f"{name}: {member} is not supported"
        if kind != "plain" and default is None and kind == "Union":
            assert "None" in members, (f"{name}: {annotation} has the default None, which only a Union with None can "
                                       "write (Docs/developer_guide/parameter_nodes/gui_connection.md)")
        if "Choice(" in validators:
            choices = eval(validators[validators.index("Choice(") + 7:validators.rindex(")")], namespace)
            assert default in choices, f"{name}: default {default!r} not among {choices}"
        if "WithinRange(" in validators:
            low, high = eval(validators[validators.index("WithinRange(") + 12:validators.rindex(")")] + ",", namespace)[:2]
            assert low <= default <= high, f"{name}: default {default} outside [{low}, {high}]"
        _write(parameter_node, name, kind, members, default)
        assert _read(parameter_node, name, kind, members) == default, name
        checked += 1
    assert checked >= 30, f"only {checked} fields: is the scan still reading the class?"
    # and a node set in the GUI is stored as a reference and read back
    segmentation = scene.AddNewNodeByClass("vtkMRMLSegmentationNode")
    name, annotation = "inputSegmentation", next(a for n, a, _, _ in _fields() if n == "inputSegmentation")
    kind, members, _ = _members(annotation)
    _write(parameter_node, name, kind, members, segmentation)
    assert _read(parameter_node, name, kind, members) is segmentation
