"""Radiomics Workshop: the Slicer layer.

Thin by design (see DESIGN.md): MRML nodes are written to temporary files,
the Slicer-free core runs as a subprocess (``PythonSlicer -m
RadiomicsWorkshopLib ...``) whose JSON-lines progress drives the progress bar,
and its output files are loaded back as nodes. No feature is computed here.
"""

import csv
import importlib.util
import json
import logging
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
from typing import Annotated, Callable, Optional, Union

import qt
import vtk

import slicer
from slicer.i18n import tr as _
from slicer.i18n import translate
from slicer.ScriptedLoadableModule import (
    ScriptedLoadableModule,
    ScriptedLoadableModuleLogic,
    ScriptedLoadableModuleTest,
    ScriptedLoadableModuleWidget,
)
from slicer.util import VTKObservationMixin
from slicer.parameterNodeWrapper import Choice, WithinRange, parameterNodeWrapper

from slicer import vtkMRMLLabelMapVolumeNode, vtkMRMLScalarVolumeNode, vtkMRMLSegmentationNode, vtkMRMLTableNode

MODULE_DIR = os.path.dirname(os.path.abspath(__file__))
PRESET_DIR = os.path.join(MODULE_DIR, "Resources", "Presets")
RECIPE_DIR = os.path.join(MODULE_DIR, "Resources", "Recipes")
REQUIREMENTS = os.path.join(MODULE_DIR, "Resources", "requirements.txt")
KEY_COLUMNS = ("case_id", "roi", "patient_id")
# The core's backbones (RadiomicsWorkshopLib/deep.py; `radiomics-workshop deep-features --help`).
DEEP_MODELS = ["resnet18", "resnet50", "densenet121", "efficientnet_b0", "resnet18_3d", "resnet50_3d", "fmcib"]


def _yamlNames(folder: str, fallback: str) -> list[str]:
    if not os.path.isdir(folder):
        return [fallback]
    return sorted(os.path.splitext(name)[0] for name in os.listdir(folder) if name.endswith(".yaml")) or [fallback]


def presetNames() -> list[str]:
    """Extraction presets shipped with the module (PyRadiomics parameter files)."""
    return _yamlNames(PRESET_DIR, "MR")


def recipeNames() -> list[str]:
    """Preprocessing recipes shipped with the module."""
    return _yamlNames(RECIPE_DIR, "brain_MR")


#
# RadiomicsWorkshop
#


class RadiomicsWorkshop(ScriptedLoadableModule):
    def __init__(self, parent):
        ScriptedLoadableModule.__init__(self, parent)
        self.parent.title = _("Radiomics Workshop")
        self.parent.categories = [translate("qSlicerAbstractCoreModule", "Radiomics")]
        self.parent.dependencies = ["Segmentations"]
        self.parent.contributors = ["RadiomicsWorkshop developers"]
        self.parent.helpText = _("""
The radiomics model-development workflow of a radiomics workshop: draw the ROI (Segment Editor),
extract PyRadiomics features for a volume and a segmentation or label map, with a preset (CT, MR,
MR_2D, IBSI) or your own PyRadiomics parameter file. The work runs in the RadiomicsWorkshop core,
outside Slicer's user interface, with progress and Cancel; the same core runs whole cohorts from the
command line (<tt>radiomics-workshop extract --manifest cohort.csv</tt>).
""")
        self.parent.acknowledgementText = _("""
Built on PyRadiomics (van Griethuysen et al., Cancer Research 2017), SimpleITK and 3D Slicer.
""")


#
# RadiomicsWorkshopParameterNode
#


@parameterNodeWrapper
class RadiomicsWorkshopParameterNode:
    """State of the module, saved with the scene.

    inputVolume - image to extract features from.
    inputRoi - segmentation (segments by name) or label map (every label).
    preset - shipped extraction preset, used when no parameter file is given.
    outputTable - table that receives one row per ROI.
    recipe - shipped preprocessing recipe, used when no recipe file is given.
    showBiasField - also load and overlay N4's bias field.
    preprocessedVolume - volume that receives the preprocessed image.
    customSteps - build the recipe from the individual steps (stepN4 ... stepNormalize) instead.
    deepModel, deepModality - network and intensity scaling of the deep features.
    deepTable - table that receives the deep features, one row per ROI.
    """

    inputVolume: vtkMRMLScalarVolumeNode
    inputRoi: Union[vtkMRMLSegmentationNode, vtkMRMLLabelMapVolumeNode]
    preset: Annotated[str, Choice(presetNames())] = "MR" if "MR" in presetNames() else presetNames()[0]
    outputTable: vtkMRMLTableNode
    recipe: Annotated[str, Choice(recipeNames())] = "brain_MR" if "brain_MR" in recipeNames() else recipeNames()[0]
    showBiasField: bool = False
    preprocessedVolume: vtkMRMLScalarVolumeNode
    customSteps: bool = False
    stepN4: bool = True
    stepDenoise: bool = True
    stepResample: bool = True
    resampleSpacing: Annotated[float, WithinRange(0.1, 10.0)] = 1.0
    stepNormalize: bool = True
    deepModel: Annotated[str, Choice(DEEP_MODELS)] = "resnet18"
    deepModality: Annotated[str, Choice(["MR", "CT"])] = "MR"
    deepTable: vtkMRMLTableNode


#
# RadiomicsWorkshopWidget
#


class RadiomicsWorkshopWidget(ScriptedLoadableModuleWidget, VTKObservationMixin):
    def __init__(self, parent=None) -> None:
        ScriptedLoadableModuleWidget.__init__(self, parent)
        VTKObservationMixin.__init__(self)
        self.logic = None
        self._parameterNode = None
        self._parameterNodeGuiTag = None
        self._run = None

    def setup(self) -> None:
        ScriptedLoadableModuleWidget.setup(self)
        uiWidget = slicer.util.loadUI(self.resourcePath("UI/RadiomicsWorkshop.ui"))
        self.layout.addWidget(uiWidget)
        self.ui = slicer.util.childWidgetVariables(uiWidget)
        uiWidget.setMRMLScene(slicer.mrmlScene)
        self.logic = RadiomicsWorkshopLogic()

        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.StartCloseEvent, self.onSceneStartClose)
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.EndCloseEvent, self.onSceneEndClose)

        self.ui.applyButton.connect("clicked(bool)", self.onApplyButton)
        self.ui.editRoiButton.connect("clicked(bool)", self.onEditRoiButton)
        self.ui.preprocessButton.connect("clicked(bool)", self.onPreprocessButton)
        self.ui.deepButton.connect("clicked(bool)", self.onDeepButton)
        self.ui.deepProgressBar.hide()
        self.ui.preprocessProgressBar.hide()
        self.ui.roiSelector.connect("currentNodeChanged(vtkMRMLNode*)", self.updateSegmentList)
        self.ui.progressBar.hide()
        self.initializeParameterNode()

    def cleanup(self) -> None:
        if self._run:
            self._run.cancel()
        self.removeObservers()

    def enter(self) -> None:
        self.initializeParameterNode()

    def exit(self) -> None:
        if self._parameterNode:
            self._parameterNode.disconnectGui(self._parameterNodeGuiTag)
            self._parameterNodeGuiTag = None
            self.removeObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self._checkCanApply)

    def onSceneStartClose(self, caller, event) -> None:
        self.setParameterNode(None)

    def onSceneEndClose(self, caller, event) -> None:
        if self.parent.isEntered:
            self.initializeParameterNode()

    def initializeParameterNode(self) -> None:
        self.setParameterNode(self.logic.getParameterNode())
        if not self._parameterNode.inputVolume:
            self._parameterNode.inputVolume = slicer.mrmlScene.GetFirstNodeByClass("vtkMRMLScalarVolumeNode")
        if not self._parameterNode.inputRoi:
            self._parameterNode.inputRoi = slicer.mrmlScene.GetFirstNodeByClass("vtkMRMLSegmentationNode")

    def setParameterNode(self, inputParameterNode: Optional[RadiomicsWorkshopParameterNode]) -> None:
        if self._parameterNode:
            self._parameterNode.disconnectGui(self._parameterNodeGuiTag)
            self.removeObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self._checkCanApply)
        self._parameterNode = inputParameterNode
        if self._parameterNode:
            self._parameterNodeGuiTag = self._parameterNode.connectGui(self.ui)
            self.addObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self._checkCanApply)
            self._checkCanApply()
            self.updateSegmentList()

    def _checkCanApply(self, caller=None, event=None) -> None:
        if self._run:  # one core run at a time; its button reads "Cancel"
            return
        ready = bool(self._parameterNode and self._parameterNode.inputVolume and self._parameterNode.inputRoi)
        self.ui.applyButton.enabled = ready
        self.ui.applyButton.toolTip = _("Extract features") if ready else _("Select a volume and a segmentation")
        self.ui.editRoiButton.enabled = bool(self._parameterNode and self._parameterNode.inputVolume)
        self.ui.preprocessButton.enabled = bool(self._parameterNode and self._parameterNode.inputVolume)
        self.ui.deepButton.enabled = ready

    def updateSegmentList(self, node=None) -> None:
        """List the segments of the selected segmentation, checked: the ones to extract."""
        self.ui.segmentList.clear()
        roi = self._parameterNode.inputRoi if self._parameterNode else None
        if not roi or not roi.IsA("vtkMRMLSegmentationNode"):
            self.ui.segmentList.enabled = False
            return
        self.ui.segmentList.enabled = True
        segmentation = roi.GetSegmentation()
        for index in range(segmentation.GetNumberOfSegments()):
            item = qt.QListWidgetItem(segmentation.GetNthSegment(index).GetName())
            item.setFlags(item.flags() | qt.Qt.ItemIsUserCheckable)
            item.setCheckState(qt.Qt.Checked)
            self.ui.segmentList.addItem(item)

    def selectedSegmentNames(self) -> Optional[list[str]]:
        if not self.ui.segmentList.enabled:
            return None
        items = [self.ui.segmentList.item(i) for i in range(self.ui.segmentList.count)]
        return [item.text() for item in items if item.checkState() == qt.Qt.Checked]

    def onEditRoiButton(self) -> None:
        self.logic.openSegmentEditor(self._parameterNode.inputVolume, self._parameterNode.inputRoi)

    def onApplyButton(self) -> None:
        if self._run:  # the button reads "Cancel" while running
            self._run.cancel()
            return
        if not self.logic.ensureDependencies():
            return
        parameterFile = self.ui.parameterFileLineEdit.currentPath or None
        with slicer.util.tryWithErrorDisplay(_("Failed to start feature extraction."), waitCursor=True):
            self._run = self.logic.startExtraction(
                self._parameterNode.inputVolume, self._parameterNode.inputRoi,
                preset=self._parameterNode.preset, parameterFile=parameterFile,
                segmentNames=self.selectedSegmentNames(), outputTableNode=self._parameterNode.outputTable,
                onProgress=self.onProgress, onFinished=self.onFinished)
            self.ui.applyButton.text = _("Cancel")
            self.ui.preprocessButton.enabled = False
            self.ui.progressBar.setValue(0)
            self.ui.progressBar.show()
            self.ui.statusLabel.text = _("Extracting features...")

    def onPreprocessButton(self) -> None:
        if self._run:
            self._run.cancel()
            return
        if not self.logic.ensureDependencies():
            return
        node = self._parameterNode
        if node.customSteps:
            recipe = self.logic.recipeFromSteps(node.stepN4, node.stepDenoise,
                                                node.resampleSpacing if node.stepResample else None, node.stepNormalize)
        else:
            recipe = self.ui.recipeFileLineEdit.currentPath or node.recipe
        with slicer.util.tryWithErrorDisplay(_("Failed to start preprocessing."), waitCursor=True):
            self._run = self.logic.startPreprocessing(
                self._parameterNode.inputVolume, recipe, labelmapNode=self._parameterNode.inputRoi,
                outputVolumeNode=self._parameterNode.preprocessedVolume,
                showBiasField=self._parameterNode.showBiasField,
                onProgress=self.onPreprocessProgress, onFinished=self.onPreprocessFinished)
            self.ui.preprocessButton.text = _("Cancel")
            self.ui.applyButton.enabled = False
            self.ui.preprocessProgressBar.setMaximum(0)  # busy: one image
            self.ui.preprocessProgressBar.show()
            self.ui.preprocessStatusLabel.text = _("Preprocessing...")

    def onDeepButton(self) -> None:
        if self._run:
            self._run.cancel()
            return
        if not self.logic.ensureDependencies(deep=True):
            return
        weights = self.ui.deepWeightsLineEdit.currentPath or "pretrained"
        if weights == "pretrained" and not slicer.util.confirmOkCancelDisplay(
                _("No weights file is given: download the pretrained weights with MONAI now (network needed)?"),
                windowTitle=_("Pretrained weights")):
            return
        node = self._parameterNode
        with slicer.util.tryWithErrorDisplay(_("Failed to start deep feature extraction."), waitCursor=True):
            self._run = self.logic.startDeepFeatures(
                node.inputVolume, node.inputRoi, model=node.deepModel, weights=weights, modality=node.deepModality,
                segmentNames=self.selectedSegmentNames(), outputTableNode=node.deepTable,
                onProgress=self.onDeepProgress, onFinished=self.onDeepFinished)
            self.ui.deepButton.text = _("Cancel")
            self.ui.applyButton.enabled = False
            self.ui.preprocessButton.enabled = False
            self.ui.deepProgressBar.setMaximum(0)
            self.ui.deepProgressBar.show()
            self.ui.deepStatusLabel.text = _("Extracting deep features...")

    def onDeepProgress(self, done: int, total: int, message: str) -> None:
        self.ui.deepStatusLabel.text = message

    def onDeepFinished(self, tableNode, errorMessage: Optional[str]) -> None:
        self._run = None
        self.ui.deepButton.text = _("Extract deep features")
        self.ui.deepProgressBar.hide()
        self._checkCanApply()
        if errorMessage:
            self.ui.deepStatusLabel.text = _("Failed.")
            slicer.util.errorDisplay(errorMessage, windowTitle=_("Radiomics Workshop"))
            return
        if tableNode is None:
            self.ui.deepStatusLabel.text = _("Cancelled.")
            return
        self._parameterNode.deepTable = tableNode
        self.ui.deepStatusLabel.text = _("{rows} row(s), {columns} features").format(
            rows=tableNode.GetNumberOfRows(), columns=tableNode.GetNumberOfColumns() - 2)
        self.logic.showTable(tableNode)

    def onPreprocessProgress(self, done: int, total: int, message: str) -> None:
        self.ui.preprocessStatusLabel.text = message

    def onPreprocessFinished(self, volumeNode, errorMessage: Optional[str]) -> None:
        self._run = None
        self.ui.preprocessButton.text = _("Preprocess")
        self.ui.preprocessProgressBar.hide()
        self._checkCanApply()
        if errorMessage:
            self.ui.preprocessStatusLabel.text = _("Failed.")
            slicer.util.errorDisplay(errorMessage, windowTitle=_("Radiomics Workshop"))
            return
        if volumeNode is None:
            self.ui.preprocessStatusLabel.text = _("Cancelled.")
            return
        # The output of this step is the default input of the next one.
        self._parameterNode.preprocessedVolume = volumeNode
        self._parameterNode.inputVolume = volumeNode
        self.ui.preprocessStatusLabel.text = _("Done: {name}").format(name=volumeNode.GetName())

    def onProgress(self, done: int, total: int, message: str) -> None:
        self.ui.progressBar.setMaximum(max(total, 1))
        self.ui.progressBar.setValue(done)
        self.ui.statusLabel.text = message

    def onFinished(self, tableNode, errorMessage: Optional[str]) -> None:
        self._run = None
        self.ui.applyButton.text = _("Apply")
        self.ui.progressBar.hide()
        self._checkCanApply()
        if errorMessage:
            self.ui.statusLabel.text = _("Failed.")
            slicer.util.errorDisplay(errorMessage, windowTitle=_("Radiomics Workshop"))
            return
        if tableNode is None:
            self.ui.statusLabel.text = _("Cancelled.")
            return
        self._parameterNode.outputTable = tableNode
        self.ui.statusLabel.text = _("{rows} row(s), {columns} features").format(
            rows=tableNode.GetNumberOfRows(), columns=tableNode.GetNumberOfColumns() - 2)
        self.logic.showTable(tableNode)


#
# Running the core
#


class CoreProcess:
    """One run of the Slicer-free core as a subprocess.

    Reads its JSON-lines events on a background thread and hands them to the
    main thread through a queue polled by a QTimer, so Slicer stays responsive.
    ``cancel()`` kills the process and its children.
    """

    def __init__(self, args: list[str], onEvent: Callable[[dict], None], onExit: Callable[[int], None]) -> None:
        self.args = args
        self._onEvent = onEvent
        self._onExit = onExit
        self._queue = queue.Queue()
        self.cancelled = False
        self.log: list[str] = []
        environment = {"PYTHONPATH": os.pathsep.join([MODULE_DIR] + os.environ.get("PYTHONPATH", "").split(os.pathsep))}
        logging.info("Running: %s", " ".join(args))
        self.process = slicer.util.launchConsoleProcess(args, updateEnvironment=environment)
        threading.Thread(target=self._read, daemon=True).start()
        self._timer = qt.QTimer()
        self._timer.setInterval(100)
        self._timer.connect("timeout()", self._poll)
        self._timer.start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self._queue.put(("line", line.rstrip()))
        self.process.wait()
        self._queue.put(("exit", self.process.returncode))

    def _poll(self) -> None:
        while not self._queue.empty():
            kind, payload = self._queue.get_nowait()
            if kind == "exit":
                self._timer.stop()
                self._onExit(payload)
                return
            self.log.append(payload)
            try:
                event = json.loads(payload)
            except ValueError:
                logging.info(payload)  # plain output (warnings of the libraries)
                continue
            if isinstance(event, dict):
                self._onEvent(event)

    def wait(self) -> None:
        """Block until the process ends (console/scripted use), handling its events."""
        while self._timer.isActive():
            self._poll()
            slicer.app.processEvents()
            qt.QThread.msleep(20)

    def cancel(self) -> None:
        """Kill the process tree: PythonSlicer is a launcher, and --jobs runs worker processes."""
        self.cancelled = True
        if self.process.poll() is not None:
            return
        if os.name == "nt":
            subprocess.run(["taskkill", "/F", "/T", "/PID", str(self.process.pid)], capture_output=True)
            return
        try:
            import psutil

            for child in psutil.Process(self.process.pid).children(recursive=True):
                child.kill()
        except Exception:  # psutil missing or the process already gone: fall back on pkill
            subprocess.run(["pkill", "-KILL", "-P", str(self.process.pid)], capture_output=True)
        self.process.kill()


def pythonSlicerExecutable() -> str:
    """Slicer's Python interpreter for subprocesses (PythonSlicer), as Slicer's own tools launch it."""
    return shutil.which("PythonSlicer") or sys.executable


#
# RadiomicsWorkshopLogic
#


class RadiomicsWorkshopLogic(ScriptedLoadableModuleLogic):
    """Console API: ``logic = slicer.util.getModuleLogic("RadiomicsWorkshop")``."""

    def __init__(self) -> None:
        ScriptedLoadableModuleLogic.__init__(self)
        self._lastResult = (None, None)

    def getParameterNode(self):
        return RadiomicsWorkshopParameterNode(super().getParameterNode())

    # Dependencies

    def ensureDependencies(self, prompt: bool = True, deep: bool = False) -> bool:
        """Install the core's Python packages on first use (never Slicer's own SimpleITK or numpy).

        PyRadiomics 3.0.1 builds from source and needs numpy at build time, so it is
        installed without build isolation after numpy's build helpers. Deep features need
        torch (from the PyTorch extension when present: PyTorchUtils picks the right build)
        and MONAI.
        """
        if deep and not importlib.util.find_spec("monai"):
            if prompt and not slicer.util.confirmOkCancelDisplay(
                    _("Deep features need PyTorch and MONAI. Install them now?"),
                    windowTitle=_("Install dependencies")):
                return False
            if not importlib.util.find_spec("torch"):
                try:
                    import PyTorchUtils  # the PyTorch extension's module

                    PyTorchUtils.PyTorchUtilsLogic().installTorch(askConfirmation=False)
                except ImportError:
                    slicer.util.pip_install("torch")
            slicer.util.pip_install("monai>=1.4")
        if all(importlib.util.find_spec(name) for name in ("radiomics", "slicerio", "yaml", "pandas")):
            return True  # checked without importing: the core runs in its own process
        if prompt and not slicer.util.confirmOkCancelDisplay(
                _("Radiomics Workshop needs PyRadiomics and a few Python packages. Install them now?"),
                windowTitle=_("Install dependencies")):
            return False
        import slicer.packaging

        requirements = slicer.packaging.load_requirements(REQUIREMENTS)
        slicer.packaging.pip_ensure(requirements, requester="RadiomicsWorkshop", prompt_install=False)
        slicer.util.pip_install("setuptools wheel versioneer")
        slicer.util.pip_install("--no-build-isolation pyradiomics==3.0.1")
        return True

    # Segment Editor

    def openSegmentEditor(self, volumeNode, roiNode) -> None:
        """Switch to Segment Editor on this volume and segmentation, to draw or fix the ROI."""
        if roiNode is None or not roiNode.IsA("vtkMRMLSegmentationNode"):
            roiNode = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLSegmentationNode", "ROI")
            roiNode.CreateDefaultDisplayNodes()
            if volumeNode:
                roiNode.SetReferenceImageGeometryParameterFromVolumeNode(volumeNode)
        slicer.util.selectModule("SegmentEditor")
        editor = slicer.util.getModuleWidget("SegmentEditor").editor
        editor.setSegmentationNode(roiNode)
        if volumeNode:
            editor.setSourceVolumeNode(volumeNode)

    # Extraction

    def extractionCommand(self, imageFile: str, maskFile: str, outFile: str, preset: str = "MR",
                          parameterFile: Optional[str] = None, segmentNames: Optional[list[str]] = None,
                          caseId: str = "case") -> list[str]:
        args = [pythonSlicerExecutable(), "-m", "RadiomicsWorkshopLib", "extract", "--image", imageFile,
                "--mask", maskFile, "--out", outFile, "--case-id", caseId, "--progress", "jsonl", "--overwrite",
                # In Slicer a segmentation is independent of any one volume's grid (e.g. drawn before
                # preprocessing resampled the volume): put it on the volume's grid, as Slicer would.
                "--resample-mask"]
        args += ["--params", parameterFile] if parameterFile else ["--preset", preset]
        for name in segmentNames or []:
            args += ["--roi", name]
        return args

    def _startCore(self, command: list[str], folder: str, what: str, loadOutputs: Callable[[], object],
                   onProgress: Optional[Callable[[int, int, str], None]],
                   onFinished: Optional[Callable]) -> CoreProcess:
        """Run the core; on success ``loadOutputs()`` turns its files into nodes; ``onFinished(result, error)``.
        The temporary folder is removed afterwards."""
        errors: list[str] = []

        def onEvent(event: dict) -> None:
            if event.get("event") == "progress" and onProgress:
                onProgress(int(event.get("done", 0)), int(event.get("total", 1)), str(event.get("message", "")))
            elif event.get("event") == "error":
                errors.append(event.get("message", ""))

        def onExit(returnCode: int) -> None:
            result, error = None, None
            if not run.cancelled:
                if returnCode != 0:
                    error = "\n".join(errors) or "\n".join(run.log[-20:]) or _("{what} failed.").format(what=what)
                else:
                    try:
                        result = loadOutputs()
                    except Exception as exc:  # a missing or unreadable output file
                        error = str(exc)
            shutil.rmtree(folder, ignore_errors=True)
            if onFinished:
                onFinished(result, error)

        run = CoreProcess(command, onEvent, onExit)
        return run

    def _newWorkFolder(self) -> str:
        return tempfile.mkdtemp(prefix="RadiomicsWorkshop-", dir=slicer.app.temporaryPath)

    def startExtraction(self, volumeNode, roiNode, preset: str = "MR", parameterFile: Optional[str] = None,
                        segmentNames: Optional[list[str]] = None, outputTableNode=None,
                        onProgress: Optional[Callable[[int, int, str], None]] = None,
                        onFinished: Optional[Callable] = None) -> CoreProcess:
        """Write the nodes to a temporary folder and start the core; ``onFinished(tableNode, error)``."""
        if not volumeNode or not roiNode:
            raise ValueError(_("Select a volume and a segmentation or label map."))
        if segmentNames is not None and not segmentNames:
            raise ValueError(_("Select at least one segment."))
        folder = self._newWorkFolder()
        imageFile = os.path.join(folder, "image.nrrd")
        maskFile = os.path.join(folder, "mask.seg.nrrd" if roiNode.IsA("vtkMRMLSegmentationNode") else "mask.nrrd")
        outFile = os.path.join(folder, "features.csv")
        slicer.util.exportNode(volumeNode, imageFile)
        slicer.util.exportNode(roiNode, maskFile)
        command = self.extractionCommand(imageFile, maskFile, outFile, preset=preset, parameterFile=parameterFile,
                                         segmentNames=segmentNames, caseId=volumeNode.GetName())
        return self._startCore(command, folder, _("Feature extraction"),
                               lambda: self.loadFeatureTable(outFile, outputTableNode,
                                                             name=f"{volumeNode.GetName()} features"),
                               onProgress, onFinished)

    def preprocessingCommand(self, imageFile: str, outDir: str, recipe: str, maskFile: Optional[str] = None,
                             biasField: bool = False, caseId: str = "case") -> list[str]:
        args = [pythonSlicerExecutable(), "-m", "RadiomicsWorkshopLib", "preprocess", "--image", imageFile,
                "--out-dir", outDir, "--recipe", recipe, "--case-id", caseId, "--progress", "jsonl", "--overwrite"]
        if maskFile:
            args += ["--mask", maskFile]
        if biasField:
            args += ["--bias-field"]
        return args

    def deepFeaturesCommand(self, imageFile: str, maskFile: str, outFile: str, model: str, weights: str,
                            modality: str = "MR", segmentNames: Optional[list[str]] = None,
                            caseId: str = "case") -> list[str]:
        args = [pythonSlicerExecutable(), "-m", "RadiomicsWorkshopLib", "deep-features", "--image", imageFile,
                "--mask", maskFile, "--out", outFile, "--model", model, "--weights", weights, "--modality", modality,
                "--case-id", caseId, "--device", "auto", "--progress", "jsonl", "--overwrite", "--resample-mask"]
        for name in segmentNames or []:
            args += ["--roi", name]
        return args

    def startDeepFeatures(self, volumeNode, roiNode, model: str = "resnet18", weights: str = "pretrained",
                          modality: str = "MR", segmentNames: Optional[list[str]] = None, outputTableNode=None,
                          onProgress: Optional[Callable[[int, int, str], None]] = None,
                          onFinished: Optional[Callable] = None) -> CoreProcess:
        """Deep features of every ROI; ``onFinished(tableNode, error)``. ``weights``: a file, or
        "pretrained" (MONAI downloads them: only when the user asked)."""
        if not volumeNode or not roiNode:
            raise ValueError(_("Select a volume and a segmentation or label map."))
        folder = self._newWorkFolder()
        imageFile = os.path.join(folder, "image.nrrd")
        maskFile = os.path.join(folder, "mask.seg.nrrd" if roiNode.IsA("vtkMRMLSegmentationNode") else "mask.nrrd")
        outFile = os.path.join(folder, "deep.csv")
        slicer.util.exportNode(volumeNode, imageFile)
        slicer.util.exportNode(roiNode, maskFile)
        command = self.deepFeaturesCommand(imageFile, maskFile, outFile, model, weights, modality, segmentNames,
                                           volumeNode.GetName())
        return self._startCore(command, folder, _("Deep feature extraction"),
                               lambda: self.loadFeatureTable(outFile, outputTableNode,
                                                             name=f"{volumeNode.GetName()} deep features"),
                               onProgress, onFinished)

    def extractDeepFeatures(self, volumeNode, roiNode, model: str = "resnet18", weights: str = "pretrained",
                            modality: str = "MR", segmentNames: Optional[list[str]] = None, outputTableNode=None):
        """Deep features and wait: returns a vtkMRMLTableNode, one row per ROI."""
        return self._wait(self.startDeepFeatures(volumeNode, roiNode, model, weights, modality, segmentNames,
                                                 outputTableNode, onFinished=self._collect))

    @staticmethod
    def recipeFromSteps(n4: bool = True, denoise: bool = True, resampleSpacing: Optional[float] = 1.0,
                        normalize: bool = True) -> dict:
        """A recipe (the core's data format) from the individual steps chosen in the module."""
        steps = []
        if n4:
            steps.append({"n4": {}})
        if denoise:
            steps.append({"denoise": {"method": "curvature_anisotropic"}})
        if resampleSpacing:
            steps.append({"resample": {"spacing": [resampleSpacing] * 3}})
        if normalize:
            steps.append({"normalize": {"method": "zscore", "region": "body"}})
        if not steps:
            raise ValueError(_("Choose at least one preprocessing step."))
        return {"name": "custom", "steps": steps}

    def startPreprocessing(self, volumeNode, recipe: Union[str, dict] = "brain_MR", labelmapNode=None,
                           outputVolumeNode=None,
                           showBiasField: bool = False,
                           onProgress: Optional[Callable[[int, int, str], None]] = None,
                           onFinished: Optional[Callable] = None) -> CoreProcess:
        """Preprocess a volume with a recipe (shipped name or file); ``onFinished(volumeNode, error)``.

        A label map, when given, is resampled along with the image (and used by recipes that
        normalise over the ROI); segmentations are not passed (recipes use the body mask)."""
        if not volumeNode:
            raise ValueError(_("Select a volume to preprocess."))
        folder = self._newWorkFolder()
        if isinstance(recipe, dict):
            recipeFile = os.path.join(folder, "recipe.json")
            with open(recipeFile, "w") as handle:
                json.dump(recipe, handle, indent=1)
            recipe = recipeFile
        imageFile = os.path.join(folder, "image.nrrd")
        slicer.util.exportNode(volumeNode, imageFile)
        maskFile = None
        if labelmapNode is not None and labelmapNode.IsA("vtkMRMLLabelMapVolumeNode"):
            maskFile = os.path.join(folder, "mask.nrrd")
            slicer.util.exportNode(labelmapNode, maskFile)
        outDir = os.path.join(folder, "out")
        caseId = "case"
        command = self.preprocessingCommand(imageFile, outDir, recipe, maskFile, showBiasField, caseId)

        def load():
            outputs = {}
            with open(os.path.join(outDir, "manifest.csv"), newline="") as handle:
                row = next(csv.DictReader(handle))
            outputs["image"] = os.path.join(outDir, row["image"])
            name = slicer.mrmlScene.GenerateUniqueName(f"{volumeNode.GetName()} preprocessed")
            node = self._loadVolumeInto(outputs["image"], outputVolumeNode, name)
            biasFile = os.path.join(outDir, "bias_fields", os.path.basename(outputs["image"]))
            if showBiasField and os.path.exists(biasFile):
                biasNode = self._loadVolumeInto(biasFile, None, f"{volumeNode.GetName()} bias field")
                slicer.util.setSliceViewerLayers(background=node, foreground=biasNode, foregroundOpacity=0.4)
            else:
                slicer.util.setSliceViewerLayers(background=node)
            return node

        return self._startCore(command, folder, _("Preprocessing"), load, onProgress, onFinished)

    def _loadVolumeInto(self, path: str, targetNode, name: str):
        """Load a volume file; into ``targetNode`` (image data and geometry) when one is given."""
        loaded = slicer.util.loadVolume(path, {"name": name, "show": False})
        if targetNode is None:
            return loaded
        targetNode.SetAndObserveImageData(loaded.GetImageData())
        ijkToRas = vtk.vtkMatrix4x4()
        loaded.GetIJKToRASMatrix(ijkToRas)
        targetNode.SetIJKToRASMatrix(ijkToRas)
        slicer.mrmlScene.RemoveNode(loaded)
        return targetNode

    def preprocess(self, volumeNode, recipe: Union[str, dict] = "brain_MR", labelmapNode=None, outputVolumeNode=None,
                   showBiasField: bool = False):
        """Preprocess and wait: returns the preprocessed volume node."""
        return self._wait(self.startPreprocessing(volumeNode, recipe, labelmapNode, outputVolumeNode, showBiasField,
                                                  onFinished=self._collect))

    def _collect(self, result, error) -> None:
        self._lastResult = (result, error)

    def _wait(self, run: CoreProcess):
        run.wait()
        result, error = self._lastResult
        if error:
            raise RuntimeError(error)
        return result

    def extractFeatures(self, volumeNode, roiNode, preset: str = "MR", segmentNames: Optional[list[str]] = None,
                        parameterFile: Optional[str] = None, outputTableNode=None):
        """Extract features and wait: returns a vtkMRMLTableNode, one row per ROI, numeric feature columns."""
        return self._wait(self.startExtraction(volumeNode, roiNode, preset=preset, parameterFile=parameterFile,
                                               segmentNames=segmentNames, outputTableNode=outputTableNode,
                                               onFinished=self._collect))

    # Results

    def loadFeatureTable(self, csvFile: str, tableNode=None, name: str = "Features"):
        """The core's CSV as a table node: key columns as text, every feature as a number."""
        with open(csvFile, newline="") as handle:
            rows = list(csv.reader(handle))
        header, records = rows[0], rows[1:]
        if tableNode is None:
            tableNode = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLTableNode", slicer.mrmlScene.GenerateUniqueName(name))
        wasModified = tableNode.StartModify()
        tableNode.RemoveAllColumns()
        for index, column in enumerate(header):
            array = vtk.vtkStringArray() if column in KEY_COLUMNS or column == "slice" else vtk.vtkDoubleArray()
            array.SetName(column)
            for record in records:
                value = record[index]
                if isinstance(array, vtk.vtkStringArray):
                    array.InsertNextValue(value)
                else:
                    array.InsertNextValue(float(value) if value not in ("", "nan", "NaN") else float("nan"))
            tableNode.AddColumn(array)
        tableNode.SetUseColumnNameAsColumnHeader(True)
        tableNode.EndModify(wasModified)
        return tableNode

    def showTable(self, tableNode) -> None:
        slicer.app.layoutManager().setLayout(slicer.vtkMRMLLayoutNode.SlicerLayoutFourUpTableView)
        slicer.app.applicationLogic().GetSelectionNode().SetActiveTableID(tableNode.GetID())
        slicer.app.applicationLogic().PropagateTableSelection()


#
# RadiomicsWorkshopTest
#


class RadiomicsWorkshopTest(ScriptedLoadableModuleTest):
    """Light in-Slicer test; the full one is Testing/Python/RadiomicsWorkshopModuleTest.py."""

    def setUp(self):
        slicer.mrmlScene.Clear()

    def runTest(self):
        self.setUp()
        self.test_ExtractSphere()

    def test_ExtractSphere(self):
        import numpy as np
        import SampleData

        volumeNode = SampleData.downloadSample("MRHead")
        segmentationNode = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLSegmentationNode")
        segmentationNode.CreateDefaultDisplayNodes()
        segmentationNode.SetReferenceImageGeometryParameterFromVolumeNode(volumeNode)
        segmentId = segmentationNode.GetSegmentation().AddEmptySegment("Sphere")
        voxels = slicer.util.arrayFromVolume(volumeNode)
        k, j, i = np.indices(voxels.shape)
        centre = np.array(voxels.shape) // 2
        sphere = ((k - centre[0]) ** 2 + (j - centre[1]) ** 2 + (i - centre[2]) ** 2) < 10 ** 2
        slicer.util.updateSegmentBinaryLabelmapFromArray(sphere.astype(np.uint8), segmentationNode, segmentId,
                                                         volumeNode)
        logic = RadiomicsWorkshopLogic()
        self.assertTrue(logic.ensureDependencies(prompt=False))
        table = logic.extractFeatures(volumeNode, segmentationNode, preset="MR")
        self.assertEqual(table.GetNumberOfRows(), 1)
        self.assertEqual(table.GetCellText(0, 1), "Sphere")
        column = table.GetTable().GetColumnByName("original_firstorder_Mean")
        self.assertIsNotNone(column)
        self.assertGreater(column.GetValue(0), 0)
        self.delayDisplay("Test passed")
