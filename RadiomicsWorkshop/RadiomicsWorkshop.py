"""Radiomics Workshop: the Slicer layer.

Thin by design (docs/architecture.md): MRML nodes are written to temporary files,
the Slicer-free core runs as a subprocess (``PythonSlicer -m
RadiomicsWorkshopLib ...``) whose JSON-lines progress drives the progress bar,
and its output files are loaded back as nodes. No feature is computed here,
and the core is never imported in Slicer's process.
"""

import csv
import importlib.util
import json
import logging
import os
import queue
import shutil
import subprocess
import tempfile
import threading
import time
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

# The one piece of the core imported here: the command lines of the steps and the reading of their progress
# (plain functions, standard library only), so that the tests run exactly what the module runs.
from RadiomicsWorkshopLib import commands

# The Slicer layer's Qt-free parts (tested without Slicer's application: see RadiomicsWorkshopSlicerLib/__init__.py):
# what to install and on which Slicer, MRML nodes <-> files, ending a run's process tree.
from RadiomicsWorkshopSlicerLib import dependencies, nodes, processes

MODULE_DIR = os.path.dirname(os.path.abspath(__file__))  # holds RadiomicsWorkshopLib: the subprocess's PYTHONPATH
CORE_PACKAGE = "RadiomicsWorkshopLib"
PRESET_DIR = os.path.join(MODULE_DIR, "Resources", "Presets")
RECIPE_DIR = os.path.join(MODULE_DIR, "Resources", "Recipes")
# The core's backbones, classifiers and feature selections, as the core defines them (through commands.py).
DEEP_MODELS = list(commands.DEEP_FEATURE_MODELS)
MODEL_CLASSIFIERS = list(commands.CLASSIFIERS)
MODEL_SELECTIONS = list(commands.SELECTIONS)


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


def slicerVersionProblem() -> Optional[str]:
    """Why this Slicer cannot run the module (older than dependencies.MINIMUM_SLICER), or None."""
    return dependencies.slicerVersionProblem(slicer.app.majorVersion, slicer.app.minorVersion)


#
# RadiomicsWorkshop
#


class RadiomicsWorkshop(ScriptedLoadableModule):
    def __init__(self, parent):
        ScriptedLoadableModule.__init__(self, parent)
        self.parent.title = _("Radiomics Workshop")
        self.parent.categories = [translate("qSlicerAbstractCoreModule", "Quantification")]
        self.parent.dependencies = ["Segmentations"]
        self.parent.contributors = ["RadiomicsWorkshop developers"]
        self.parent.helpText = _("""
The radiomics model-development workflow of a radiomics workshop: draw the ROI (Segment Editor),
preprocess the image (N4 bias field, denoising, resampling, normalisation), extract PyRadiomics
features for a volume and a segmentation or label map with a preset (CT, MR, MR_2D, IBSI) or your
own PyRadiomics parameter file, and deep features of a pretrained network. The work runs in the
RadiomicsWorkshop core, outside Slicer's user interface, with progress and Cancel; the same core
runs whole cohorts from the command line (<tt>radiomics-workshop extract --manifest cohort.csv</tt>).
From the Python console: <tt>slicer.util.getModuleLogic("RadiomicsWorkshop").extractFeatures(volumeNode,
segmentationNode, preset="MR")</tt> returns a table node.
""")
        self.parent.acknowledgementText = _("""
Built on PyRadiomics (van Griethuysen et al., Cancer Research 2017), SimpleITK, MONAI and 3D Slicer.
""")

        problem = slicerVersionProblem()
        if problem:  # Slicer < 5.10: say so where the user looks (the module's help, the log), register nothing
            logging.error(problem)
            self.parent.helpText = problem
            return
        # The workshop's sample cases in the Sample Data module, once Slicer has started
        slicer.app.connect("startupCompleted()", registerSampleData)


#
# Sample data: PyRadiomics' five test cases (image and label map), as its own tests use them
#

# SHA-256 of each image and label map (from PyRadiomics 3.0.1's source distribution; the brain, breast
# and label files are identical in its git repository at v3.0.1, the lung images are release assets).
SAMPLE_CASES = {
    "brain1": ("fffdb111ee8b428ede7256707393c927a7d5be912f0604cf3c6f1bd5fc9644cf",
               "ae6d8e6b84f7e99d68c210ee2fa6aaaefa0b2df0a84f55efca4feebe2b216059"),
    "brain2": ("d35a1c6a3e1eb72bae97c5515472fbe057fb38ee8e1e199215d1c3c6f292332e",
               "15189c024936ecc337649b9a10c475117c7c40df0d53c22163f9a2023ed741a5"),
    "breast1": ("0e8b668f3ce9b9aacff20dc3c216866f43069ff96b269fb45b76f5e205a431e2",
                "07085bb0e36a956de5bd1c1c1b5f8bdf2ce80952125b13cbd352412c108c8950"),
    "lung1": ("379fa48bf34cfa961e6f5ec19c0c38757a30b9aa884212ef28dc29b5061c64ed",
              "e9d9a88054d7bc1d3034193ff907ce6b8c6ba28a7bc3a16f23728982d1b6b50a"),
    "lung2": ("aa2b94eec79127ed786798ac8dc3c013010e1692d5787bebfae1a1e9685a4651",
              "cef52738dc51aab69a48fe30639da956d2b911b1c2920439c091fab84727657a"),
}
PYRADIOMICS_DATA_URL = "https://raw.githubusercontent.com/AIM-Harvard/pyradiomics/v3.0.1/data/"
PYRADIOMICS_RELEASE_URL = "https://github.com/AIM-Harvard/pyradiomics/releases/download/v1.0/"
# The category's name is what Sample Data shows on Slicer 5.10; from 5.12 its title is set (translatable).
SAMPLE_CATEGORY = "Radiomics Workshop"


def sampleDataUrl(fileName: str) -> str:
    """Where Sample Data downloads a case's file: the lung images are not in PyRadiomics' repository."""
    return (PYRADIOMICS_RELEASE_URL if fileName in ("lung1_image.nrrd", "lung2_image.nrrd")
            else PYRADIOMICS_DATA_URL) + fileName


def registerSampleData() -> None:
    """The five cases in Sample Data's "Radiomics Workshop" category: the image as a volume, the label map
    as a segmentation (ready for Segment Editor and for the module): ``SampleData.downloadSamples("brain1")``
    returns both (``downloadSample`` returns the first only)."""
    import SampleData

    if hasattr(SampleData.SampleDataLogic, "registerCustomSampleDataCategory"):  # Slicer >= 5.12
        SampleData.SampleDataLogic.registerCustomSampleDataCategory(SAMPLE_CATEGORY, title=_("Radiomics Workshop"))
    thumbnail = os.path.join(MODULE_DIR, "Resources", "Icons", "RadiomicsWorkshop.png")
    for name, (imageSha256, labelSha256) in SAMPLE_CASES.items():
        fileNames = [f"{name}_image.nrrd", f"{name}_label.nrrd"]
        SampleData.SampleDataLogic.registerCustomSampleDataSource(
            category=SAMPLE_CATEGORY, sampleName=name, thumbnailFileName=thumbnail,
            uris=[sampleDataUrl(fileName) for fileName in fileNames], fileNames=fileNames,
            nodeNames=[name, f"{name} ROI"], loadFileTypes=["VolumeFile", "SegmentationFile"],
            checksums=[f"SHA256:{imageSha256}", f"SHA256:{labelSha256}"])


#
# RadiomicsWorkshopParameterNode
#


@parameterNodeWrapper
class RadiomicsWorkshopParameterNode:
    """State of the module, saved with the scene.

    inputVolume - image to extract features from.
    inputSegmentation - segmentation (segments chosen in the list) or label map (every label).
    preset - shipped extraction preset, used when no parameter file is given.
    parameterFile - your own PyRadiomics parameter file (YAML); replaces the preset when set.
    outputTable - table that receives one row per ROI.
    recipe - shipped preprocessing recipe, used when no recipe file is given.
    showBiasField - also load and overlay N4's bias field.
    preprocessedVolume - volume that receives the preprocessed image.
    customSteps - build the recipe from the individual steps (stepN4 ... stepNormalize) instead.
    deepModel, deepModality - network and intensity scaling of the deep features.
    deepTable - table that receives the deep features, one row per ROI.
    modelTable / modelTableFile - the cohort's feature table, from the scene or a file (.csv/.parquet).
    modelClinicalFile - optional clinical CSV joined on case_id (outcome, patient_id, clinical predictors).
    modelOutcome, modelGroup - outcome column; column grouping rows by patient (empty: patient_id if present).
    modelClassifier, modelSelection - classifier and feature selection of the pipeline.
    modelFolder - folder the trained model is written to (empty: a new folder under Slicer's default scene
        folder, RadiomicsWorkshop-models/: kept, unlike Slicer's temporary folder, which the system cleans).
    modelMetricsTable - table that receives the cross-validated metrics with their 95% CIs.
    segModelFolder - MONAI bundle folder of the auto-segmentation model (ours or from the model zoo).
    segOutput - segmentation that receives the automatic segmentation (named segments; refine it in Segment Editor).
    segTta - average over mirrored copies (slower, often smoother).
    segCompare - also compare with the ROI selected above (Dice, IoU, HD95, surface Dice).
    """

    inputVolume: vtkMRMLScalarVolumeNode
    # None in the Union: its default (None) must be writable. Slicer's parameterNodeWrapper writes every
    # default when it wraps a new node, and a Union without None has no serializer for None (TypeError);
    # Docs/developer_guide/parameter_nodes/gui_connection.md asks for it.
    inputSegmentation: Union[vtkMRMLSegmentationNode, vtkMRMLLabelMapVolumeNode, None]
    preset: Annotated[str, Choice(presetNames())] = "MR" if "MR" in presetNames() else presetNames()[0]
    parameterFile: str = ""
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
    modelTable: vtkMRMLTableNode
    modelTableFile: str = ""
    modelClinicalFile: str = ""
    modelOutcome: str = "label"
    modelGroup: str = ""
    modelClassifier: Annotated[str, Choice(MODEL_CLASSIFIERS)] = "logistic"
    modelSelection: Annotated[str, Choice(MODEL_SELECTIONS)] = "anova"
    modelFolder: str = ""
    modelMetricsTable: vtkMRMLTableNode
    segModelFolder: str = ""
    segOutput: vtkMRMLSegmentationNode
    segTta: bool = False
    segCompare: bool = False


#
# RadiomicsWorkshopWidget
#


class RadiomicsWorkshopWidget(ScriptedLoadableModuleWidget, VTKObservationMixin):
    def __init__(self, parent=None) -> None:
        ScriptedLoadableModuleWidget.__init__(self, parent)
        VTKObservationMixin.__init__(self)
        self.logic = None
        self.ui = None
        self._parameterNode = None
        self._parameterNodeGuiTag = None
        self._run = None  # the core process running now (one at a time)
        self._listedSegmentation = None  # whose segments the list shows
        self._listedSegmentIds = []  # the segment ID of each row of the list
        self._trainingFolder = None  # where the model being trained is written

    def setup(self) -> None:
        ScriptedLoadableModuleWidget.setup(self)
        problem = slicerVersionProblem()
        if problem:  # Slicer < 5.10: the message instead of a GUI that cannot work
            message = qt.QLabel(problem)
            message.setWordWrap(True)
            self.layout.addWidget(message)
            self.layout.addStretch(1)
            return
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
        self.ui.trainButton.connect("clicked(bool)", self.onTrainButton)
        self.ui.predictButton.connect("clicked(bool)", self.onPredictButton)
        self.ui.openReportButton.connect("clicked(bool)", self.onOpenReportButton)
        self.ui.segmentButton.connect("clicked(bool)", self.onSegmentButton)
        # str parameters: kept in sync by hand (parameterNodeWrapper connects ctkPathLineEdit to pathlib.Path only).
        self.ui.parameterFileLineEdit.connect("currentPathChanged(QString)",
                                 lambda path: self.onPathChanged("parameterFile", path))
        self.ui.modelTableFileLineEdit.connect("currentPathChanged(QString)",
                                 lambda path: self.onPathChanged("modelTableFile", path))
        self.ui.modelClinicalFileLineEdit.connect("currentPathChanged(QString)",
                                 lambda path: self.onPathChanged("modelClinicalFile", path))
        self.ui.modelFolderLineEdit.connect("currentPathChanged(QString)",
                                 lambda path: self.onPathChanged("modelFolder", path))
        self.ui.segModelFolderLineEdit.connect("currentPathChanged(QString)",
                                 lambda path: self.onPathChanged("segModelFolder", path))
        self.ui.progressBar.hide()
        self.ui.preprocessProgressBar.hide()
        self.ui.deepProgressBar.hide()
        self.ui.trainProgressBar.hide()
        self.ui.segProgressBar.hide()
        self.initializeParameterNode()

    def cleanup(self) -> None:
        if self._run:
            self._run.cancel()
        self.removeObservers()

    def enter(self) -> None:
        if self.ui is None:  # no GUI on an unsupported Slicer
            return
        self.initializeParameterNode()
        self.updateSegmentList()  # segments may have been added or renamed in Segment Editor

    def exit(self) -> None:
        if self._parameterNode:
            self._parameterNode.disconnectGui(self._parameterNodeGuiTag)
            self._parameterNodeGuiTag = None
            self.removeObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self._onParameterNodeModified)

    def onSceneStartClose(self, caller, event) -> None:
        self.setParameterNode(None)

    def onSceneEndClose(self, caller, event) -> None:
        if self.parent.isEntered:
            self.initializeParameterNode()

    def initializeParameterNode(self) -> None:
        self.setParameterNode(self.logic.getParameterNode())
        if not self._parameterNode.inputVolume:
            volumes = [node for node in slicer.util.getNodesByClass("vtkMRMLScalarVolumeNode")
                       if not node.IsA("vtkMRMLLabelMapVolumeNode")]
            if volumes:
                self._parameterNode.inputVolume = volumes[0]
        if not self._parameterNode.inputSegmentation:
            segmentation = slicer.mrmlScene.GetFirstNodeByClass("vtkMRMLSegmentationNode")
            if segmentation:
                self._parameterNode.inputSegmentation = segmentation

    def setParameterNode(self, inputParameterNode: Optional[RadiomicsWorkshopParameterNode]) -> None:
        if self._parameterNode:
            self._parameterNode.disconnectGui(self._parameterNodeGuiTag)
            self.removeObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self._onParameterNodeModified)
        self._parameterNode = inputParameterNode
        if self._parameterNode:
            # SlicerParameterName dynamic properties in the .ui name the parameters.
            self._parameterNodeGuiTag = self._parameterNode.connectGui(self.ui)
            self.addObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self._onParameterNodeModified)
            for lineEdit, value in ((self.ui.parameterFileLineEdit, self._parameterNode.parameterFile),
                                    (self.ui.modelTableFileLineEdit, self._parameterNode.modelTableFile),
                                    (self.ui.modelClinicalFileLineEdit, self._parameterNode.modelClinicalFile),
                                    (self.ui.modelFolderLineEdit, self._parameterNode.modelFolder),
                                    (self.ui.segModelFolderLineEdit, self._parameterNode.segModelFolder)):
                if lineEdit.currentPath != value:
                    lineEdit.currentPath = value
        self._onParameterNodeModified()

    def _onParameterNodeModified(self, caller=None, event=None) -> None:
        segmentation = self._parameterNode.inputSegmentation if self._parameterNode else None
        if segmentation is not self._listedSegmentation:
            self.updateSegmentList()
        self._checkCanApply()

    def onPathChanged(self, parameter: str, path: str) -> None:
        """A path line edit changed: store it in its str parameter (kept in sync by hand, see setup)."""
        if self._parameterNode and getattr(self._parameterNode, parameter) != path:
            setattr(self._parameterNode, parameter, path)

    def _checkCanApply(self) -> None:
        if self._run:  # one core run at a time; its button reads "Cancel"
            return
        node = self._parameterNode
        ready = bool(node and node.inputVolume and node.inputSegmentation)
        self.ui.applyButton.enabled = ready
        self.ui.applyButton.toolTip = (_("Extract features (press again to cancel).") if ready
                                       else _("Select a volume and a segmentation or label map."))
        self.ui.editRoiButton.enabled = bool(node and node.inputVolume)
        self.ui.preprocessButton.enabled = bool(node and node.inputVolume)
        self.ui.deepButton.enabled = ready
        self.ui.trainButton.enabled = bool(node and (node.modelTable or node.modelTableFile) and node.modelOutcome)
        trained = bool(node and self.logic.hasModel(node.modelFolder))
        self.ui.predictButton.enabled = trained and bool(node.outputTable or node.deepTable)
        self.ui.openReportButton.enabled = trained and os.path.isfile(os.path.join(node.modelFolder, "report.html"))
        self.ui.segmentButton.enabled = bool(node and node.inputVolume and node.segModelFolder)

    def updateSegmentList(self) -> None:
        """List the segments of the selected segmentation, checked: the ones to extract."""
        self.ui.segmentList.clear()
        self._listedSegmentIds = []
        roi = self._parameterNode.inputSegmentation if self._parameterNode else None
        self._listedSegmentation = roi
        if not roi or not roi.IsA("vtkMRMLSegmentationNode"):
            self.ui.segmentList.enabled = False  # a label map: every label is extracted
            return
        self.ui.segmentList.enabled = True
        segmentation = roi.GetSegmentation()
        for index in range(segmentation.GetNumberOfSegments()):
            segmentId = segmentation.GetNthSegmentID(index)
            item = qt.QListWidgetItem(segmentation.GetSegment(segmentId).GetName())
            item.setFlags(item.flags() | qt.Qt.ItemIsUserCheckable)
            item.setCheckState(qt.Qt.Checked)
            self.ui.segmentList.addItem(item)
            self._listedSegmentIds.append(segmentId)

    def selectedSegmentIds(self) -> Optional[list[str]]:
        """Checked segments' IDs; None for a label map (all labels)."""
        if not self.ui.segmentList.enabled:
            return None
        return [segmentId for row, segmentId in enumerate(self._listedSegmentIds)
                if self.ui.segmentList.item(row).checkState() == qt.Qt.Checked]

    def onEditRoiButton(self) -> None:
        with slicer.util.tryWithErrorDisplay(_("Failed to open Segment Editor."), waitCursor=True):
            segmentationNode = self.logic.openSegmentEditor(self._parameterNode.inputVolume,
                                                            self._parameterNode.inputSegmentation)
            self._parameterNode.inputSegmentation = segmentationNode

    def _startRun(self, button, progressBar, statusLabel, status: str) -> None:
        """The UI of a started core run: the button cancels it, the other buttons wait."""
        for other in (self.ui.applyButton, self.ui.preprocessButton, self.ui.deepButton, self.ui.trainButton,
                      self.ui.predictButton, self.ui.segmentButton):
            other.enabled = other is button
        button.text = _("Cancel")
        progressBar.setMaximum(0)  # busy until the core reports how many steps
        progressBar.setValue(0)
        progressBar.show()
        statusLabel.text = status

    def _endRun(self, button, buttonText: str, progressBar, statusLabel, result,
                errorMessage: Optional[str]) -> bool:
        """Restore the UI after a core run; show its error or that it was cancelled. True when there is a result."""
        self._run = None
        button.text = buttonText
        progressBar.hide()
        self._checkCanApply()
        if errorMessage:
            statusLabel.text = _("Failed.")
            slicer.util.errorDisplay(errorMessage, windowTitle=_("Radiomics Workshop"))
            return False
        if result is None:
            statusLabel.text = _("Cancelled.")
            return False
        return True

    def onApplyButton(self) -> None:
        if self._run:  # the button reads "Cancel" while running
            self._run.cancel()
            return
        node = self._parameterNode
        with slicer.util.tryWithErrorDisplay(_("Failed to start feature extraction."), waitCursor=True):
            if not self.logic.ensureDependencies():
                return
            self._run = self.logic.startExtraction(
                node.inputVolume, node.inputSegmentation, preset=node.preset,
                segmentIds=self.selectedSegmentIds(), parameterFile=node.parameterFile or None,
                outputTableNode=node.outputTable, onProgress=self.onProgress, onFinished=self.onFinished)
            self._startRun(self.ui.applyButton, self.ui.progressBar, self.ui.statusLabel, _("Extracting features..."))

    def onProgress(self, done: int, total: int, message: str) -> None:
        self.ui.progressBar.setMaximum(max(total, 1))
        self.ui.progressBar.setValue(done)
        self.ui.statusLabel.text = message

    def onFinished(self, tableNode, errorMessage: Optional[str]) -> None:
        if not self._endRun(self.ui.applyButton, _("Apply"), self.ui.progressBar,
                            self.ui.statusLabel, tableNode, errorMessage):
            return
        self._parameterNode.outputTable = tableNode
        self.ui.statusLabel.text = _("{rows} row(s), {columns} features").format(
            rows=tableNode.GetNumberOfRows(), columns=self.logic.featureCount(tableNode))
        self.logic.showTable(tableNode)

    def onPreprocessButton(self) -> None:
        if self._run:
            self._run.cancel()
            return
        node = self._parameterNode
        with slicer.util.tryWithErrorDisplay(_("Failed to start preprocessing."), waitCursor=True):
            if not self.logic.ensureDependencies():
                return
            if node.customSteps:
                recipe = self.logic.recipeFromSteps(node.stepN4, node.stepDenoise,
                                                    node.resampleSpacing if node.stepResample else None,
                                                    node.stepNormalize)
            else:
                recipe = self.ui.recipeFileLineEdit.currentPath or node.recipe
            self._run = self.logic.startPreprocessing(
                node.inputVolume, recipe, labelmapNode=node.inputSegmentation,
                outputVolumeNode=node.preprocessedVolume, showBiasField=node.showBiasField,
                onProgress=self.onPreprocessProgress, onFinished=self.onPreprocessFinished)
            self._startRun(self.ui.preprocessButton, self.ui.preprocessProgressBar, self.ui.preprocessStatusLabel,
                           _("Preprocessing..."))

    def onPreprocessProgress(self, done: int, total: int, message: str) -> None:
        self.ui.preprocessStatusLabel.text = message

    def onPreprocessFinished(self, volumeNode, errorMessage: Optional[str]) -> None:
        if not self._endRun(self.ui.preprocessButton, _("Preprocess"), self.ui.preprocessProgressBar,
                            self.ui.preprocessStatusLabel, volumeNode, errorMessage):
            return
        # The output of this step is the default input of the next one.
        self._parameterNode.preprocessedVolume = volumeNode
        self._parameterNode.inputVolume = volumeNode
        self.ui.preprocessStatusLabel.text = _("Done: {name}").format(name=volumeNode.GetName())

    def onDeepButton(self) -> None:
        if self._run:
            self._run.cancel()
            return
        node = self._parameterNode
        weights = self.ui.deepWeightsLineEdit.currentPath or "pretrained"
        if weights == "pretrained" and not slicer.util.confirmOkCancelDisplay(
                _("No weights file is given: download the pretrained weights with MONAI now (network needed)?"),
                windowTitle=_("Pretrained weights")):
            return
        with slicer.util.tryWithErrorDisplay(_("Failed to start deep feature extraction."), waitCursor=True):
            if not self.logic.ensureDependencies(deep=True):
                return
            self._run = self.logic.startDeepFeatures(
                node.inputVolume, node.inputSegmentation, model=node.deepModel, weights=weights,
                modality=node.deepModality, segmentIds=self.selectedSegmentIds(), outputTableNode=node.deepTable,
                onProgress=self.onDeepProgress, onFinished=self.onDeepFinished)
            self._startRun(self.ui.deepButton, self.ui.deepProgressBar, self.ui.deepStatusLabel,
                           _("Extracting deep features..."))

    def onDeepProgress(self, done: int, total: int, message: str) -> None:
        self.ui.deepStatusLabel.text = message

    def onDeepFinished(self, tableNode, errorMessage: Optional[str]) -> None:
        if not self._endRun(self.ui.deepButton, _("Extract deep features"), self.ui.deepProgressBar,
                            self.ui.deepStatusLabel, tableNode, errorMessage):
            return
        self._parameterNode.deepTable = tableNode
        self.ui.deepStatusLabel.text = _("{rows} row(s), {columns} features").format(
            rows=tableNode.GetNumberOfRows(), columns=self.logic.featureCount(tableNode))
        self.logic.showTable(tableNode)

    def onTrainButton(self) -> None:
        if self._run:
            self._run.cancel()
            return
        node = self._parameterNode
        overwrite = self.logic.hasModel(node.modelFolder)
        if overwrite and not slicer.util.confirmOkCancelDisplay(
                _("{folder} holds a trained model: replace it?").format(folder=node.modelFolder),
                windowTitle=_("Replace model")):
            return
        with slicer.util.tryWithErrorDisplay(_("Failed to start training."), waitCursor=True):
            if not self.logic.ensureDependencies():
                return
            # A table file replaces the table node (see the field's tooltip).
            self._run = self.logic.startTraining(
                featureTableNode=None if node.modelTableFile else node.modelTable,
                featureTableFile=node.modelTableFile or None,
                outcome=node.modelOutcome, modelFolder=node.modelFolder or None,
                clinicalFile=node.modelClinicalFile or None, group=node.modelGroup or None,
                classifier=node.modelClassifier, selection=node.modelSelection,
                metricsTableNode=node.modelMetricsTable, overwrite=overwrite, onProgress=self.onTrainProgress,
                onFinished=self.onTrainFinished)
            self._trainingFolder = self._run.modelFolder
            self._startRun(self.ui.trainButton, self.ui.trainProgressBar, self.ui.trainStatusLabel,
                           _("Training (nested cross-validation)..."))

    def onTrainProgress(self, done: int, total: int, message: str) -> None:
        self.ui.trainProgressBar.setMaximum(max(total, 1))
        self.ui.trainProgressBar.setValue(done)
        self.ui.trainStatusLabel.text = message

    def onTrainFinished(self, metricsTableNode, errorMessage: Optional[str]) -> None:
        if not self._endRun(self.ui.trainButton, _("Train"), self.ui.trainProgressBar,
                            self.ui.trainStatusLabel, metricsTableNode, errorMessage):
            return
        self._parameterNode.modelMetricsTable = metricsTableNode
        self._parameterNode.modelFolder = self._trainingFolder  # the model of the next prediction
        self.ui.trainStatusLabel.text = self.logic.modelSummary(self._trainingFolder)
        self._checkCanApply()

    def onPredictButton(self) -> None:
        if self._run:
            self._run.cancel()
            return
        node = self._parameterNode
        tables = [table for table in (node.outputTable, node.deepTable) if table]
        with slicer.util.tryWithErrorDisplay(_("Failed to start prediction."), waitCursor=True):
            self._run = self.logic.startPrediction(node.modelFolder, tables, onFinished=self.onPredictFinished)
            self._startRun(self.ui.predictButton, self.ui.trainProgressBar, self.ui.predictResultLabel,
                           _("Predicting..."))

    def onPredictFinished(self, tableNode, errorMessage: Optional[str]) -> None:
        if not self._endRun(self.ui.predictButton, _("Predict the current case"), self.ui.trainProgressBar,
                            self.ui.predictResultLabel, tableNode, errorMessage):
            return
        self.ui.predictResultLabel.text = self.logic.predictionSummary(tableNode)
        self.logic.showTable(tableNode)

    def onSegmentButton(self) -> None:
        if self._run:
            self._run.cancel()
            return
        node = self._parameterNode
        with slicer.util.tryWithErrorDisplay(_("Failed to start the automatic segmentation."), waitCursor=True):
            if not self.logic.ensureDependencies(deep=True):
                return
            self._run = self.logic.startAutoSegmentation(
                node.inputVolume, node.segModelFolder, outputSegmentationNode=node.segOutput, tta=node.segTta,
                referenceNode=node.inputSegmentation if node.segCompare else None,
                onProgress=self.onSegmentProgress, onFinished=self.onSegmentFinished)
            self._startRun(self.ui.segmentButton, self.ui.segProgressBar, self.ui.segStatusLabel, _("Segmenting..."))

    def onSegmentProgress(self, done: int, total: int, message: str) -> None:
        self.ui.segStatusLabel.text = message

    def onSegmentFinished(self, segmentationNode, errorMessage: Optional[str]) -> None:
        if not self._endRun(self.ui.segmentButton, _("Segment"), self.ui.segProgressBar,
                            self.ui.segStatusLabel, segmentationNode, errorMessage):
            return
        self._parameterNode.segOutput = segmentationNode
        self.ui.segStatusLabel.text = self.logic.autoSegmentationSummary(segmentationNode)

    def onOpenReportButton(self) -> None:
        with slicer.util.tryWithErrorDisplay(_("Failed to open the report."), waitCursor=True):
            self.logic.openReport(self._parameterNode.modelFolder)


#
# Running the core
#


def pythonSlicerExecutable() -> str:
    """PythonSlicer: Slicer's Python in Slicer's environment, found as SlicerTotalSegmentator and
    SlicerMONAIAuto3DSeg find it (on the PATH that Slicer's launcher sets, else in Slicer's bin folder)."""
    executable = shutil.which("PythonSlicer") or shutil.which("PythonSlicer", path=os.path.join(slicer.app.slicerHome, "bin"))
    if not executable:
        raise RuntimeError(_("PythonSlicer (Slicer's Python interpreter) was not found."))
    return executable


def coreCommand(step: str, *args: str) -> list[str]:
    """``PythonSlicer -m RadiomicsWorkshopLib <step> ...``."""
    return [pythonSlicerExecutable(), "-m", CORE_PACKAGE, step, *args]


def coreEnvironment() -> dict[str, str]:
    """Variables added to Slicer's start-up environment for the core: the module folder (which holds
    RadiomicsWorkshopLib) on PYTHONPATH; PythonSlicer adds Slicer's own paths itself."""
    inherited = slicer.util.startupEnvironment().get("PYTHONPATH", "")
    return {"PYTHONPATH": os.pathsep.join(path for path in (MODULE_DIR, inherited) if path)}


class CoreProcess:
    """One run of the Slicer-free core as a subprocess.

    A background thread reads its output lines into a queue that a QTimer empties on the main
    thread (as slicer.util.launchConsoleProcess's non-blocking mode does in Slicer 5.12, which older
    Slicer versions lack), so Slicer stays responsive. JSON lines are events (``--progress jsonl``),
    other lines are logged. ``cancel()`` kills the process tree; ``wait()`` blocks (console use).
    """

    POLL_INTERVAL_MS = 100

    def __init__(self, args: list[str], onEvent: Callable[[dict], None], onExit: Callable[[int], None]) -> None:
        self.args = list(args)
        self.cancelled = False
        self.finished = False
        self.returnCode = None
        self.log: list[str] = []
        self._onEvent = onEvent
        self._onExit = onExit
        self._queue = queue.Queue()
        logging.info("RadiomicsWorkshop: %s", subprocess.list2cmdline(self.args))
        self.process = slicer.util.launchConsoleProcess(self.args, updateEnvironment=coreEnvironment())
        threading.Thread(target=self._read, daemon=True).start()
        self._timer = qt.QTimer()
        self._timer.setInterval(self.POLL_INTERVAL_MS)
        self._timer.connect("timeout()", self._poll)
        self._timer.start()

    def _read(self) -> None:
        """Background thread: only reads the pipe (no Qt, no MRML here)."""
        while True:
            try:
                line = self.process.stdout.readline()
            except UnicodeDecodeError:  # as slicer.util.logProcessOutput: output in another code page is dropped
                continue
            if not line:
                break
            self._queue.put(("line", line.rstrip()))
        self._queue.put(("exit", self.process.wait()))

    def _poll(self) -> None:
        while not self.finished:
            try:
                kind, payload = self._queue.get_nowait()
            except queue.Empty:
                return
            if kind == "exit":
                self._timer.stop()
                self.finished = True  # before the callback: it may process events (and this timer)
                self.returnCode = payload
                self._onExit(payload)
                return
            self.log.append(payload)
            event = commands.parse_event(payload)
            if event is not None:
                self._onEvent(event)
            else:
                logging.info(payload)  # plain output (warnings of the libraries)

    def wait(self) -> None:
        """Block until the process ends, handling its events (console and scripted use)."""
        while not self.finished:
            self._poll()
            if not self.finished:
                slicer.app.processEvents()
                time.sleep(0.02)

    def cancel(self) -> None:
        self.cancelled = True
        if self.process.poll() is None:
            processes.killProcessTree(self.process)


#
# RadiomicsWorkshopLogic
#


class RadiomicsWorkshopLogic(ScriptedLoadableModuleLogic):
    """Console API: ``logic = slicer.util.getModuleLogic("RadiomicsWorkshop")``, then
    ``logic.extractFeatures(volumeNode, segmentationNode, preset="MR")`` -> vtkMRMLTableNode."""

    def __init__(self) -> None:
        ScriptedLoadableModuleLogic.__init__(self)
        self._running = set()  # core runs not finished yet (kept alive even if the caller drops them)

    def getParameterNode(self):
        return RadiomicsWorkshopParameterNode(super().getParameterNode())

    # Dependencies

    @staticmethod
    def missingPackages() -> list[str]:
        """Requirements of the core (Resources/requirements.txt) that are not installed (PyRadiomics is not
        among them: it ships with the extension)."""
        return dependencies.missingRequirements()

    def ensureDependencies(self, prompt: bool = True, deep: bool = False) -> bool:
        """Install the core's Python packages on first use, after confirmation; False if declined.

        PyRadiomics ships with the extension (built on Slicer's build servers) but is no longer needed: the
        core's own feature engine computes PyRadiomics' classes to its numbers, and only settings it lacks
        (LBP image types, ...) need PyRadiomics itself, which the extraction then says. A missing PyRadiomics is
        logged with what to do, and nothing is built here. The rest comes as binary wheels,
        under constraints that pin every package Slicer's Python has (RadiomicsWorkshopSlicerLib.dependencies):
        nothing of Slicer's is replaced. Deep features also need torch, from the PyTorch extension (it
        installs the build that fits the machine, CUDA or CPU), then MONAI.
        """
        problem = dependencies.pyradiomicsProblem()
        if problem:
            logging.warning("Radiomics Workshop: features are computed by its own engine. %s", problem)
        missing = self.missingPackages()
        torchMissing = deep and not importlib.util.find_spec("torch")
        deepMissing = deep and bool(dependencies.missingRequirements(dependencies.DEEP_REQUIREMENTS))
        if not missing and not torchMissing and not deepMissing:
            return True
        if prompt:
            packages = missing + (["torch (PyTorch extension)"] if torchMissing else []) + \
                (dependencies.DEEP_REQUIREMENTS if deepMissing else [])
            if not slicer.util.confirmOkCancelDisplay(
                    _("Radiomics Workshop needs these Python packages in Slicer's Python:\n{packages}\n\n"
                      "Install them now?").format(packages="\n".join(packages)),
                    windowTitle=_("Install dependencies")):
                return False
        if missing:
            dependencies.install(slicer.util.pip_install)
        if torchMissing:
            try:
                import PyTorchUtils  # the PyTorch extension's module (EXTENSION_DEPENDS PyTorch)
            except ImportError:
                raise RuntimeError(_("Deep features need the PyTorch extension: install it from the Extension "
                                     "Manager and restart Slicer.")) from None
            torch = PyTorchUtils.PyTorchUtilsLogic().installTorch(
                askConfirmation=False, torchVersionRequirement=dependencies.TORCH_REQUIREMENT)
            if torch is None:
                raise RuntimeError(_("PyTorch ({requirement}) could not be installed: see the application log, or "
                                     "install it from the PyTorch module.").format(
                    requirement=dependencies.TORCH_REQUIREMENT))
        if deepMissing:
            dependencies.install(slicer.util.pip_install, dependencies.DEEP_REQUIREMENTS)
        return True

    # Segment Editor

    def openSegmentEditor(self, volumeNode, segmentationNode):
        """Switch to Segment Editor on this volume and segmentation, to draw or fix the ROI; returns the
        segmentation edited (a label map is imported into a new segmentation first, a new one is created
        when none is given)."""
        if segmentationNode is not None and segmentationNode.IsA("vtkMRMLLabelMapVolumeNode"):
            labelmapNode = segmentationNode
            segmentationNode = slicer.mrmlScene.AddNewNodeByClass(
                "vtkMRMLSegmentationNode", slicer.mrmlScene.GenerateUniqueName(f"{labelmapNode.GetName()} segmentation"))
            segmentationNode.CreateDefaultDisplayNodes()
            nodes.importLabelMap(slicer.mrmlScene, labelmapNode, segmentationNode)
        elif segmentationNode is None:
            segmentationNode = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLSegmentationNode",
                                                                  slicer.mrmlScene.GenerateUniqueName("ROI"))
            segmentationNode.CreateDefaultDisplayNodes()
        if volumeNode is not None:
            segmentationNode.SetReferenceImageGeometryParameterFromVolumeNode(volumeNode)
        slicer.util.selectModule("SegmentEditor")
        editor = slicer.util.getModuleWidget("SegmentEditor").editor  # qMRMLSegmentEditorWidget
        editor.setSegmentationNode(segmentationNode)
        if volumeNode is not None:
            editor.setSourceVolumeNode(volumeNode)  # setMasterVolumeNode before Slicer 5.4
        return segmentationNode

    # Nodes to files

    def _newWorkFolder(self) -> str:
        return tempfile.mkdtemp(prefix="RadiomicsWorkshop-", dir=slicer.app.temporaryPath)

    @staticmethod
    def writeInputs(folder: str, volumeNode, roiNode) -> tuple[str, Optional[str]]:
        """The volume as NRRD; a segmentation as .seg.nrrd (segment names, IDs and overlaps kept), a label
        map as NRRD; in world coordinates when transformed. Returns (image file, mask file or None)."""
        return nodes.writeInputs(slicer.mrmlScene, folder, volumeNode, roiNode)

    # Core runs

    def _startCore(self, command: list[str], folder: str, what: str, loadOutputs: Callable[[], object],
                   onProgress: Optional[Callable[[int, int, str], None]],
                   onFinished: Optional[Callable]) -> CoreProcess:
        """Run the core; on success ``loadOutputs()`` turns its files into nodes. Then
        ``onFinished(result, error)``: (node, None), (None, message) or (None, None) when cancelled.
        The temporary folder is removed afterwards."""
        def onLog(levelName: str, message: str) -> None:
            level = logging.getLevelName(levelName.upper())
            logging.log(level if isinstance(level, int) else logging.INFO, message)

        # The core's messages name temporary files; its advice says what to do.
        reader = commands.ProgressReader(onProgress, onLog, _("What to do: {hint}"))

        def onExit(returnCode: int) -> None:
            result, error = None, None
            try:
                if run.cancelled:
                    pass
                elif returnCode != 0:
                    error = reader.failure(returnCode, run.log) or _("{what} failed.").format(what=what)
                else:
                    result = loadOutputs()
            except Exception as exc:  # a missing or unreadable output file
                logging.exception("RadiomicsWorkshop: loading the results failed")
                error = _("{what}: the results could not be loaded ({error}).").format(what=what, error=exc)
            finally:
                shutil.rmtree(folder, ignore_errors=True)
                self._running.discard(run)
            if onFinished:
                onFinished(result, error)

        try:
            run = CoreProcess(command, reader.handle, onExit)
        except Exception:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        self._running.add(run)
        return run

    @staticmethod
    def _runAndWait(start: Callable, **kwargs):
        """Start a core run, wait for it, return its result; raise RuntimeError with the core's message."""
        outcome = []
        run = start(**kwargs, onFinished=lambda result, error: outcome.append((result, error)))
        run.wait()
        result, error = outcome[0] if outcome else (None, _("The run ended without a result."))
        if error:
            raise RuntimeError(error)
        if result is None:
            raise RuntimeError(_("Cancelled."))
        return result

    @staticmethod
    def _rois(segmentIds, segmentNames) -> Optional[list[str]]:
        """The --roi values: segment IDs or names (the core matches either), or label values; None: all."""
        if segmentIds is None and segmentNames is None:
            return None
        rois = [str(item) for item in list(segmentIds or []) + list(segmentNames or [])]
        if not rois:
            raise ValueError(_("Select at least one segment."))
        return rois

    # Extraction

    def extractionCommand(self, imageFile: str, maskFile: str, outFile: str, preset: str = "MR",
                          parameterFile: Optional[str] = None, rois: Optional[list[str]] = None,
                          caseId: str = "case") -> list[str]:
        return coreCommand(*commands.extraction_args(imageFile, maskFile, outFile, preset, parameterFile, rois, caseId))

    def startExtraction(self, volumeNode, segmentationNode, preset: str = "MR", segmentIds=None,
                        parameterFile: Optional[str] = None, outputTableNode=None,
                        onProgress: Optional[Callable[[int, int, str], None]] = None,
                        onFinished: Optional[Callable] = None, segmentNames=None) -> CoreProcess:
        """Write the nodes to a temporary folder and start the core; ``onFinished(tableNode, error)``."""
        if not volumeNode or not segmentationNode:
            raise ValueError(_("Select a volume and a segmentation or label map."))
        if parameterFile and not os.path.isfile(parameterFile):
            raise ValueError(_("Parameter file not found: {path}").format(path=parameterFile))
        rois = self._rois(segmentIds, segmentNames)
        folder = self._newWorkFolder()
        try:
            imageFile, maskFile = self.writeInputs(folder, volumeNode, segmentationNode)
        except Exception:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        outFile = os.path.join(folder, "features.csv")
        command = self.extractionCommand(imageFile, maskFile, outFile, preset=preset, parameterFile=parameterFile,
                                         rois=rois, caseId=volumeNode.GetName())
        return self._startCore(command, folder, _("Feature extraction"),
                               lambda: self.loadFeatureTable(outFile, outputTableNode,
                                                             name=f"{volumeNode.GetName()} features"),
                               onProgress, onFinished)

    def extractFeatures(self, volumeNode, segmentationNode, preset: str = "MR", segmentIds=None,
                        parameterFile: Optional[str] = None, outputTableNode=None, segmentNames=None):
        """Extract PyRadiomics features and wait: returns a vtkMRMLTableNode, one row per ROI.

        segmentationNode: a vtkMRMLSegmentationNode or a vtkMRMLLabelMapVolumeNode.
        segmentIds: segment IDs (or label values for a label map) to extract; segmentNames: the same by
        name; neither: every segment or label. parameterFile: a PyRadiomics YAML file, instead of preset.
        Key columns case_id and roi are text, every feature column is a number.
        Raises RuntimeError with the core's message when extraction fails.
        """
        return self._runAndWait(self.startExtraction, volumeNode=volumeNode, segmentationNode=segmentationNode,
                                preset=preset, segmentIds=segmentIds, parameterFile=parameterFile,
                                outputTableNode=outputTableNode, segmentNames=segmentNames)

    # Deep features

    def deepFeaturesCommand(self, imageFile: str, maskFile: str, outFile: str, model: str, weights: str,
                            modality: str = "MR", rois: Optional[list[str]] = None, caseId: str = "case") -> list[str]:
        return coreCommand(*commands.deep_features_args(imageFile, maskFile, outFile, model, weights, modality, rois,
                                                        caseId))

    def startDeepFeatures(self, volumeNode, segmentationNode, model: str = "resnet18", weights: str = "pretrained",
                          modality: str = "MR", segmentIds=None, outputTableNode=None,
                          onProgress: Optional[Callable[[int, int, str], None]] = None,
                          onFinished: Optional[Callable] = None, segmentNames=None) -> CoreProcess:
        """Deep features of every ROI; ``onFinished(tableNode, error)``. ``weights``: a file, or
        "pretrained" (MONAI downloads them: only when the user asked)."""
        if not volumeNode or not segmentationNode:
            raise ValueError(_("Select a volume and a segmentation or label map."))
        rois = self._rois(segmentIds, segmentNames)
        folder = self._newWorkFolder()
        try:
            imageFile, maskFile = self.writeInputs(folder, volumeNode, segmentationNode)
        except Exception:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        outFile = os.path.join(folder, "deep.csv")
        command = self.deepFeaturesCommand(imageFile, maskFile, outFile, model, weights, modality, rois,
                                           volumeNode.GetName())
        return self._startCore(command, folder, _("Deep feature extraction"),
                               lambda: self.loadFeatureTable(outFile, outputTableNode,
                                                             name=f"{volumeNode.GetName()} deep features"),
                               onProgress, onFinished)

    def extractDeepFeatures(self, volumeNode, segmentationNode, model: str = "resnet18", weights: str = "pretrained",
                            modality: str = "MR", segmentIds=None, outputTableNode=None, segmentNames=None):
        """Deep features and wait: returns a vtkMRMLTableNode, one row per ROI."""
        return self._runAndWait(self.startDeepFeatures, volumeNode=volumeNode, segmentationNode=segmentationNode,
                                model=model, weights=weights, modality=modality, segmentIds=segmentIds,
                                outputTableNode=outputTableNode, segmentNames=segmentNames)

    # Preprocessing

    def preprocessingCommand(self, imageFile: str, outDir: str, recipe: str, maskFile: Optional[str] = None,
                             biasField: bool = False, caseId: str = "case") -> list[str]:
        return coreCommand(*commands.preprocessing_args(imageFile, outDir, recipe, maskFile, biasField, caseId))

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
                           outputVolumeNode=None, showBiasField: bool = False,
                           onProgress: Optional[Callable[[int, int, str], None]] = None,
                           onFinished: Optional[Callable] = None) -> CoreProcess:
        """Preprocess a volume with a recipe (shipped name, file, or a dict); ``onFinished(volumeNode, error)``.

        A label map, when given, is resampled along with the image (and used by recipes that
        normalise over the ROI); segmentations are not passed (recipes use the body mask)."""
        if not volumeNode:
            raise ValueError(_("Select a volume to preprocess."))
        folder = self._newWorkFolder()
        try:
            if isinstance(recipe, dict):
                recipeFile = os.path.join(folder, "recipe.json")
                with open(recipeFile, "w") as handle:
                    json.dump(recipe, handle, indent=1)
                recipe = recipeFile
            labelmap = labelmapNode if labelmapNode is not None and labelmapNode.IsA("vtkMRMLLabelMapVolumeNode") else None
            imageFile, maskFile = self.writeInputs(folder, volumeNode, labelmap)
        except Exception:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        outDir = os.path.join(folder, "out")
        command = self.preprocessingCommand(imageFile, outDir, recipe, maskFile, showBiasField, "case")

        def load():
            with open(os.path.join(outDir, "manifest.csv"), newline="") as handle:
                row = next(csv.DictReader(handle))
            imagePath = os.path.join(outDir, row["image"])
            node = nodes.readVolume(slicer.mrmlScene, imagePath, outputVolumeNode,
                                    name=f"{volumeNode.GetName()} preprocessed")
            biasFile = commands.bias_field_path(outDir, imagePath)
            if showBiasField and os.path.exists(biasFile):
                biasNode = nodes.readVolume(slicer.mrmlScene, biasFile, name=f"{volumeNode.GetName()} bias field")
                slicer.util.setSliceViewerLayers(background=node, foreground=biasNode, foregroundOpacity=0.4)
            else:
                slicer.util.setSliceViewerLayers(background=node)
            return node

        return self._startCore(command, folder, _("Preprocessing"), load, onProgress, onFinished)

    def preprocess(self, volumeNode, recipe: Union[str, dict] = "brain_MR", labelmapNode=None, outputVolumeNode=None,
                   showBiasField: bool = False):
        """Preprocess and wait: returns the preprocessed volume node."""
        return self._runAndWait(self.startPreprocessing, volumeNode=volumeNode, recipe=recipe,
                                labelmapNode=labelmapNode, outputVolumeNode=outputVolumeNode,
                                showBiasField=showBiasField)

    # Modelling

    def trainingCommand(self, tableFiles: list[str], outcome: str, outDir: str, clinicalFile: Optional[str] = None,
                        group: Optional[str] = None, classifier: str = "logistic", selection: str = "anova",
                        overwrite: bool = False) -> list[str]:
        return coreCommand(*commands.training_args(tableFiles, outcome, outDir, clinicalFile, group, classifier,
                                                   selection, overwrite))

    @staticmethod
    def _exportTable(tableNode, path: str) -> str:
        """A table node as the core's CSV, numbers written exactly."""
        return nodes.writeTable(tableNode, path)

    @staticmethod
    def hasModel(modelFolder: Optional[str]) -> bool:
        return bool(modelFolder) and os.path.isfile(os.path.join(modelFolder, "card.json"))

    def startTraining(self, featureTableNode=None, featureTableFile: Optional[str] = None, outcome: str = "label",
                      modelFolder: Optional[str] = None, clinicalFile: Optional[str] = None,
                      group: Optional[str] = None, classifier: str = "logistic", selection: str = "anova",
                      metricsTableNode=None, overwrite: bool = False,
                      onProgress: Optional[Callable[[int, int, str], None]] = None,
                      onFinished: Optional[Callable] = None) -> CoreProcess:
        """Train and validate a classifier on a cohort's feature table(s): table nodes and/or files (one, or a
        list: radiomics and deep features are joined on case_id and roi); ``onFinished(metricsTableNode, error)``.
        The model folder (model, card, report, predictions, curves) is kept: ``run.modelFolder`` names it; ROC
        and calibration are shown as plot charts."""
        nodes = list(featureTableNode) if isinstance(featureTableNode, (list, tuple)) else \
            [featureTableNode] if featureTableNode else []
        files = list(featureTableFile) if isinstance(featureTableFile, (list, tuple)) else \
            [featureTableFile] if featureTableFile else []
        if not nodes and not files:
            raise ValueError(_("Select the cohort's feature table (a table in the scene, or a file)."))
        self._checkFiles(files + [clinicalFile])
        if not outcome:
            raise ValueError(_("Name the outcome column."))
        modelFolder = modelFolder or self._newModelFolder("model")
        folder = self._newWorkFolder()
        try:
            tableFiles = files + [self._exportTable(node, os.path.join(folder, f"features{index}.csv"))
                                  for index, node in enumerate(nodes)]
        except Exception:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        command = self.trainingCommand(tableFiles, outcome, modelFolder, clinicalFile, group, classifier, selection,
                                       overwrite)

        run = self._startCore(command, folder, _("Training"), self._modelLoader(modelFolder, metricsTableNode),
                              onProgress, onFinished)
        run.modelFolder = modelFolder
        return run

    def trainModel(self, featureTableNode=None, featureTableFile: Optional[str] = None, outcome: str = "label",
                   modelFolder: Optional[str] = None, clinicalFile: Optional[str] = None, group: Optional[str] = None,
                   classifier: str = "logistic", selection: str = "anova", overwrite: bool = False):
        """Train and wait: returns the metrics table node (estimates with 95% CIs); the model folder is
        ``modelFolder`` (or a new one, named in the log)."""
        return self._runAndWait(self.startTraining, featureTableNode=featureTableNode,
                                featureTableFile=featureTableFile, outcome=outcome, modelFolder=modelFolder,
                                clinicalFile=clinicalFile, group=group, classifier=classifier, selection=selection,
                                overwrite=overwrite)

    @staticmethod
    def _checkFiles(paths: list) -> None:
        for path in paths:
            if path and not os.path.isfile(path):
                raise ValueError(_("File not found: {path}").format(path=path))

    @staticmethod
    def _newModelFolder(prefix: str) -> str:
        # Slicer's default scene folder (Application Settings): kept, unlike slicer.app.temporaryPath, which
        # the system cleans.
        return os.path.join(slicer.app.defaultScenePath, "RadiomicsWorkshop-models",
                            time.strftime(f"{prefix}-%Y%m%d-%H%M%S"))

    def _modelLoader(self, modelFolder: str, metricsTableNode=None) -> Callable[[], object]:
        """After training: the metrics table node, and the ROC and calibration plot charts shown."""
        def load():
            metrics = self.loadFeatureTable(os.path.join(modelFolder, "metrics.csv"), metricsTableNode,
                                            name="Model metrics")
            self.showModelCharts(modelFolder)
            return metrics
        return load

    def showModelCharts(self, modelFolder: str) -> list:
        """The cross-validated ROC curve (with its CI band) and calibration plot as Slicer plot charts, from
        the roc.csv and calibration.csv the core wrote; the ROC chart is shown."""
        rocChart, calibrationChart = nodes.modelCharts(slicer.mrmlScene, os.path.join(modelFolder, "roc.csv"),
                                                       os.path.join(modelFolder, "calibration.csv"))
        slicer.modules.plots.logic().ShowChartInLayout(rocChart)
        return [rocChart, calibrationChart]

    @staticmethod
    def modelSummary(modelFolder: str) -> str:
        """One line on a trained model (radiomics or end-to-end CNN), from its card."""
        card = commands.card_summary(modelFolder)
        low, high = card["ci95"]
        if card["kind"] == "cnn":
            return _("CNN ({backbone}, {dims}D): cross-validated AUC {auc:.3f} (95% CI {low:.3f}-{high:.3f}); "
                     "{patients} patients. Classifier: {folder}").format(
                backbone=card["backbone"], dims=card["dims"], auc=card["auc"], low=low, high=high,
                patients=card["patients"], folder=modelFolder)
        return _("Cross-validated AUC {auc:.3f} (95% CI {low:.3f}-{high:.3f}), balanced accuracy {bacc:.3f}; "
                 "{patients} patients; {features} feature(s) in the final model. Model: {folder}").format(
            auc=card["auc"], low=low, high=high, bacc=card["balanced_accuracy"], patients=card["patients"],
            features=card["features"], folder=modelFolder)

    # End-to-end CNN, and the comparison of models on the same folds

    def cnnTrainingCommand(self, manifestFile: str, outcome: str, outDir: str, foldsFile: Optional[str] = None,
                           backbone: str = "resnet18", dims: int = 2, width: int = 64, crop: int = 64,
                           epochs: int = 40, overwrite: bool = False) -> list[str]:
        return coreCommand(*commands.cnn_training_args(manifestFile, outcome, outDir, foldsFile, backbone, dims, width,
                                                       crop, epochs, overwrite=overwrite))

    def startCnnTraining(self, manifestFile: str, outcome: str = "label", modelFolder: Optional[str] = None,
                         foldsFile: Optional[str] = None, backbone: str = "resnet18", dims: int = 2, width: int = 64,
                         crop: int = 64, epochs: int = 40, metricsTableNode=None, overwrite: bool = False,
                         onProgress: Optional[Callable[[int, int, str], None]] = None,
                         onFinished: Optional[Callable] = None) -> CoreProcess:
        """Train an end-to-end CNN on a cohort manifest, cross-validated on ``foldsFile`` (a radiomics model's
        folds.csv: the same patients in every fold); ``onFinished(metricsTableNode, error)``. ROC and calibration
        are shown as plot charts; ``run.modelFolder`` names the classifier folder."""
        if not manifestFile:
            raise ValueError(_("Select the cohort's manifest (case_id, image, mask and the outcome column)."))
        self._checkFiles([manifestFile, foldsFile])
        modelFolder = modelFolder or self._newModelFolder("cnn")
        command = self.cnnTrainingCommand(manifestFile, outcome, modelFolder, foldsFile, backbone, dims, width, crop,
                                          epochs, overwrite)

        run = self._startCore(command, self._newWorkFolder(), _("CNN training"),
                              self._modelLoader(modelFolder, metricsTableNode), onProgress, onFinished)
        run.modelFolder = modelFolder
        return run

    def trainCnn(self, manifestFile: str, outcome: str = "label", modelFolder: Optional[str] = None,
                 foldsFile: Optional[str] = None, backbone: str = "resnet18", dims: int = 2, width: int = 64,
                 crop: int = 64, epochs: int = 40, overwrite: bool = False):
        """Train the CNN and wait: returns the metrics table node (estimates with 95% CIs)."""
        return self._runAndWait(self.startCnnTraining, manifestFile=manifestFile, outcome=outcome,
                                modelFolder=modelFolder, foldsFile=foldsFile, backbone=backbone, dims=dims,
                                width=width, crop=crop, epochs=epochs, overwrite=overwrite)

    def startComparison(self, modelFolder: str, otherFolders: list[str], outputTableNode=None,
                        onFinished: Optional[Callable] = None) -> CoreProcess:
        """The model's report gains a comparison with the other models (validated on the same folds): metrics
        with CIs, ROC curves overlaid, DeLong tests; ``onFinished(comparisonTableNode, error)``."""
        for folder in [modelFolder] + list(otherFolders):
            if not self.hasModel(folder):
                raise ValueError(_("Not a trained model: {folder}").format(folder=folder))
        if not otherFolders:
            raise ValueError(_("Choose at least one other model to compare with."))
        command = coreCommand(*commands.comparison_args(modelFolder, list(otherFolders)))
        return self._startCore(command, self._newWorkFolder(), _("Comparison"),
                               lambda: self.loadFeatureTable(os.path.join(modelFolder, "comparison.csv"),
                                                             outputTableNode, name="Model comparison"),
                               None, onFinished)

    def compareModels(self, modelFolder: str, otherFolders: list[str], outputTableNode=None):
        """Compare and wait: returns the comparison table node; ``openReport(modelFolder)`` shows the report."""
        return self._runAndWait(self.startComparison, modelFolder=modelFolder, otherFolders=otherFolders,
                                outputTableNode=outputTableNode)

    def startIbsiCheck(self, dataFolder: str, outputTableNode=None, configurations: Optional[list[str]] = None,
                       onFinished: Optional[Callable] = None) -> CoreProcess:
        """This installation against the IBSI-1 reference values found in ``dataFolder`` (``ibsi-check``: the
        digital phantom, the CT phantom's configurations); ``onFinished(tableNode, error)``, the table per
        configuration and family. A family reproducing fewer values than it should is an error."""
        if not os.path.isdir(dataFolder):
            raise ValueError(_("Not a folder: {folder}").format(folder=dataFolder))
        folder = self._newWorkFolder()
        outFile = os.path.join(folder, "ibsi_check.csv")
        return self._startCore(coreCommand(*commands.ibsi_check_args(dataFolder, outFile, configurations)), folder,
                               _("IBSI check"),
                               lambda: self.loadFeatureTable(outFile, outputTableNode, name="IBSI check"),
                               None, onFinished)

    def ibsiCheck(self, dataFolder: str, outputTableNode=None, configurations: Optional[list[str]] = None):
        """Check and wait: returns the table node (e.g. from Slicer's Python console)."""
        return self._runAndWait(self.startIbsiCheck, dataFolder=dataFolder, outputTableNode=outputTableNode,
                                configurations=configurations)

    def startRobustness(self, manifestPath: str, outputTableNode=None, preset: str = "MR", perturbations: str = "RNTC",
                        count: int = 30, jobs: int = 1, onFinished: Optional[Callable] = None) -> CoreProcess:
        """Feature robustness of a cohort (``robustness``): every case of the manifest under ``count``
        perturbations, then each feature's ICC(1,1), ICC(2,1), ICC(3,1) with 95% CIs and the CCC;
        ``onFinished(tableNode, error)``, the ICC table (icc.png and robustness.md lie beside it)."""
        if not os.path.isfile(manifestPath):
            raise ValueError(_("Not a manifest file: {file}").format(file=manifestPath))
        folder = self._newWorkFolder()
        outDir = os.path.join(folder, "robustness")
        return self._startCore(coreCommand(*commands.robustness_args(manifestPath, outDir, preset, perturbations,
                                                                     count, jobs=jobs)),
                               folder, _("Feature robustness"),
                               lambda: self.loadFeatureTable(os.path.join(outDir, "icc.csv"), outputTableNode,
                                                             name="Feature robustness"),
                               None, onFinished)

    def robustness(self, manifestPath: str, outputTableNode=None, preset: str = "MR", perturbations: str = "RNTC",
                   count: int = 30, jobs: int = 1):
        """Feature robustness and wait: returns the ICC table node (e.g. from Slicer's Python console)."""
        return self._runAndWait(self.startRobustness, manifestPath=manifestPath, outputTableNode=outputTableNode,
                                preset=preset, perturbations=perturbations, count=count, jobs=jobs)

    def predictionCommand(self, modelFolder: str, tableFiles: list[str], outFile: str) -> list[str]:
        return coreCommand(*commands.prediction_args(modelFolder, tableFiles, outFile))

    def startPrediction(self, modelFolder: str, featureTableNodes: list, outputTableNode=None,
                        onFinished: Optional[Callable] = None) -> CoreProcess:
        """Predict the rows of the given feature tables (the current case's radiomics and, if the model uses
        them, deep features: joined on case_id and roi); ``onFinished(predictionsTableNode, error)``."""
        if not self.hasModel(modelFolder):
            raise ValueError(_("Train a model first, or choose the folder of a trained model."))
        if not featureTableNodes:
            raise ValueError(_("Extract the current case's features first."))
        folder = self._newWorkFolder()
        try:
            files = [self._exportTable(node, os.path.join(folder, f"features{index}.csv"))
                     for index, node in enumerate(featureTableNodes)]
        except Exception:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        outFile = os.path.join(folder, "predictions.csv")
        return self._startCore(self.predictionCommand(modelFolder, files, outFile), folder, _("Prediction"),
                               lambda: self.loadFeatureTable(outFile, outputTableNode, name="Predictions"),
                               None, onFinished)

    def predictCase(self, modelFolder: str, featureTableNodes: list, outputTableNode=None):
        """Predict and wait: returns a table node with the predicted class and one probability per class."""
        return self._runAndWait(self.startPrediction, modelFolder=modelFolder, featureTableNodes=featureTableNodes,
                                outputTableNode=outputTableNode)

    @staticmethod
    def predictionSummary(tableNode) -> str:
        """'Tumor: malignant (p = 0.87)' for each row of a predictions table."""
        table = tableNode.GetTable()
        lines = []
        for row in range(tableNode.GetNumberOfRows()):
            predicted = table.GetColumnByName("predicted").GetValue(row)
            probability = table.GetColumnByName(f"probability_{predicted}")
            roi = table.GetColumnByName("roi")
            where = f"{roi.GetValue(row)}: " if roi is not None else ""
            lines.append(_("{where}{predicted} (p = {p:.2f})").format(
                where=where, predicted=predicted, p=probability.GetValue(row) if probability is not None else float("nan")))
        return "\n".join(lines)

    @staticmethod
    def openReport(modelFolder: str) -> None:
        """Open the model's HTML report in the system's browser."""
        path = os.path.join(modelFolder or "", "report.html")
        if not os.path.isfile(path):
            raise ValueError(_("No report in {folder}: train a model first.").format(folder=modelFolder))
        qt.QDesktopServices.openUrl(qt.QUrl.fromLocalFile(path))

    # Automatic segmentation

    def segmentationCommand(self, imageFile: str, bundleFolder: str, outFile: str, tta: bool = False,
                            referenceFile: Optional[str] = None, metricsFile: Optional[str] = None) -> list[str]:
        return coreCommand(*commands.segmentation_args(imageFile, bundleFolder, outFile, tta, referenceFile,
                                                       metricsFile))

    @staticmethod
    def _exportReferenceLabelmap(referenceNode, volumeNode, path: str) -> str:
        """A segmentation's visible segments (or a label map) as a label map file on the volume's grid."""
        if referenceNode.IsA("vtkMRMLLabelMapVolumeNode"):
            return nodes.writeNode(slicer.mrmlScene, referenceNode, path)
        return nodes.writeVisibleSegmentsAsLabelMap(slicer.mrmlScene, referenceNode, volumeNode, path)

    @staticmethod
    def bundleLabelNames(bundleFolder: str) -> dict:
        """Label value -> name, from the bundle's configs/metadata.json (MONAI's channel_def)."""
        return commands.read_bundle_label_names(bundleFolder)

    def startAutoSegmentation(self, volumeNode, bundleFolder: str, outputSegmentationNode=None, tta: bool = False,
                              referenceNode=None, onProgress: Optional[Callable[[int, int, str], None]] = None,
                              onFinished: Optional[Callable] = None) -> CoreProcess:
        """Segment the volume with a MONAI bundle; ``onFinished(segmentationNode, error)``. Segments are named
        from the bundle's labels. With ``referenceNode`` (a segmentation or label map) the core also compares
        the result with it: see ``autoSegmentationSummary``."""
        if not volumeNode:
            raise ValueError(_("Select a volume."))
        if not bundleFolder or not os.path.isdir(bundleFolder):
            raise ValueError(_("Choose the folder of a MONAI bundle (configs/, models/model.pt)."))
        folder = self._newWorkFolder()
        try:
            imageFile, _mask = self.writeInputs(folder, volumeNode, None)
            referenceFile = (self._exportReferenceLabelmap(referenceNode, volumeNode, os.path.join(folder, "reference.nrrd"))
                             if referenceNode is not None else None)
        except Exception:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        outFile = os.path.join(folder, "segmentation.nrrd")
        metricsFile = os.path.join(folder, "metrics.csv")
        command = self.segmentationCommand(imageFile, bundleFolder, outFile, tta, referenceFile, metricsFile)

        def load():
            segmentationNode = nodes.readLabelMapAsSegmentation(
                slicer.mrmlScene, outFile, volumeNode, outputSegmentationNode, self.bundleLabelNames(bundleFolder),
                name=f"{volumeNode.GetName()} auto")
            if referenceFile:
                segmentationNode.SetAttribute("RadiomicsWorkshop.Dice", "; ".join(
                    f"label {row['label']}: Dice {row['dice']:.3f}, HD95 {row['hausdorff95_mm']:.1f} mm"
                    for row in commands.read_segmentation_metrics(metricsFile)))
            return segmentationNode

        return self._startCore(command, folder, _("Automatic segmentation"), load, onProgress, onFinished)

    def autoSegment(self, volumeNode, bundleFolder: str, outputSegmentationNode=None, tta: bool = False,
                    referenceNode=None):
        """Segment and wait: returns the segmentation node (one named segment per label found)."""
        return self._runAndWait(self.startAutoSegmentation, volumeNode=volumeNode, bundleFolder=bundleFolder,
                                outputSegmentationNode=outputSegmentationNode, tta=tta, referenceNode=referenceNode)

    @staticmethod
    def autoSegmentationSummary(segmentationNode) -> str:
        segmentation = segmentationNode.GetSegmentation()
        names = [segmentation.GetNthSegment(index).GetName() for index in range(segmentation.GetNumberOfSegments())]
        text = _("Segments: {names}").format(names=", ".join(names) or _("none found"))
        comparison = segmentationNode.GetAttribute("RadiomicsWorkshop.Dice")
        return text + ("\n" + comparison if comparison else "")

    # Results

    @staticmethod
    def loadFeatureTable(csvFile: str, tableNode=None, name: str = "Features"):
        """The core's CSV as a table node: key columns as text, every other column as numbers."""
        return nodes.readTable(slicer.mrmlScene, csvFile, tableNode, name)

    @staticmethod
    def featureCount(tableNode) -> int:
        return nodes.featureCount(tableNode)

    def showTable(self, tableNode) -> None:
        """Show the table below the slice views."""
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
        self.assertTrue(column.IsA("vtkDoubleArray"))
        self.assertGreater(column.GetValue(0), 0)
        self.delayDisplay("Test passed")
