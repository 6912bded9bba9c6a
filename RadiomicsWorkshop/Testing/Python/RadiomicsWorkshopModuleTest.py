"""In-Slicer test (Slicer's CI): the module's console API on a sample volume.

Runs the whole Slicer path: nodes -> temporary files -> core subprocess ->
table node, for a segmentation with two named segments and for a label map.
"""

import numpy as np

import slicer
from slicer.ScriptedLoadableModule import ScriptedLoadableModuleTest


class RadiomicsWorkshopModuleTest(ScriptedLoadableModuleTest):
    def setUp(self):
        slicer.mrmlScene.Clear()

    def runTest(self):
        self.setUp()
        self.test_segmentation_two_segments()
        self.setUp()
        self.test_labelmap_and_bad_segment()
        self.setUp()
        self.test_preprocess_then_extract()
        self.setUp()
        self.test_deep_features_with_saved_weights()
        self.setUp()
        self.test_train_then_predict_the_current_case()
        self.setUp()
        self.test_auto_segmentation_with_a_bundle()
        self.setUp()
        self.test_workshop_sample_case_from_sample_data()

    def _volumeAndSpheres(self):
        import SampleData

        volumeNode = SampleData.downloadSample("MRHead")
        voxels = slicer.util.arrayFromVolume(volumeNode)
        k, j, i = np.indices(voxels.shape)
        centre = np.array(voxels.shape) // 2
        big = ((k - centre[0]) ** 2 + (j - centre[1]) ** 2 + (i - centre[2]) ** 2) < 12 ** 2
        small = ((k - centre[0]) ** 2 + (j - centre[1] - 30) ** 2 + (i - centre[2]) ** 2) < 6 ** 2
        return volumeNode, big, small

    @staticmethod
    def _segmentation(volumeNode, segments: dict):
        """A segmentation on the volume's geometry with one segment per (name, boolean array)."""
        segmentationNode = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLSegmentationNode")
        segmentationNode.CreateDefaultDisplayNodes()
        segmentationNode.SetReferenceImageGeometryParameterFromVolumeNode(volumeNode)
        for name, mask in segments.items():
            segmentId = segmentationNode.GetSegmentation().AddEmptySegment(name)
            slicer.util.updateSegmentBinaryLabelmapFromArray(mask.astype(np.uint8), segmentationNode, segmentId,
                                                             volumeNode)
        return segmentationNode

    def test_segmentation_two_segments(self):
        volumeNode, big, small = self._volumeAndSpheres()
        segmentationNode = self._segmentation(volumeNode, {"Big": big, "Small": small})
        logic = slicer.util.getModuleLogic("RadiomicsWorkshop")
        self.assertTrue(logic.ensureDependencies(prompt=False))
        table = logic.extractFeatures(volumeNode, segmentationNode, preset="MR")
        self.assertEqual(table.GetNumberOfRows(), 2)
        self.assertEqual([table.GetCellText(r, 1) for r in range(2)], ["Big", "Small"])
        volume = table.GetTable().GetColumnByName("original_shape_VoxelVolume")
        self.assertTrue(volume.IsA("vtkDoubleArray"))
        spacing = np.prod(volumeNode.GetSpacing())
        self.assertAlmostEqual(volume.GetValue(0) / spacing, float(big.sum()), delta=1)
        only = logic.extractFeatures(volumeNode, segmentationNode, preset="MR", segmentNames=["Small"])
        self.assertEqual(only.GetNumberOfRows(), 1)
        bigId = segmentationNode.GetSegmentation().GetSegmentIdBySegmentName("Big")
        byId = logic.extractFeatures(volumeNode, segmentationNode, "MR", [bigId])  # segment IDs, positionally
        self.assertEqual([byId.GetCellText(r, 1) for r in range(byId.GetNumberOfRows())], ["Big"])

    def test_labelmap_and_bad_segment(self):
        volumeNode, big, small = self._volumeAndSpheres()
        labels = big.astype(np.uint8) + 2 * small.astype(np.uint8)
        labelNode = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLLabelMapVolumeNode")
        labelNode.CopyOrientation(volumeNode)
        slicer.util.updateVolumeFromArray(labelNode, labels)
        logic = slicer.util.getModuleLogic("RadiomicsWorkshop")
        table = logic.extractFeatures(volumeNode, labelNode, preset="MR")
        self.assertEqual([table.GetCellText(r, 1) for r in range(table.GetNumberOfRows())], ["1", "2"])
        with self.assertRaises(RuntimeError) as caught:
            logic.extractFeatures(volumeNode, labelNode, preset="MR", segmentNames=["7"])
        self.assertIn("labels present: 1, 2", str(caught.exception))

    def test_preprocess_then_extract(self):
        volumeNode, big, small = self._volumeAndSpheres()
        logic = slicer.util.getModuleLogic("RadiomicsWorkshop")
        self.assertTrue(logic.ensureDependencies(prompt=False))
        preprocessed = logic.preprocess(volumeNode, "brain_MR", showBiasField=True)
        self.assertEqual([round(s, 3) for s in preprocessed.GetSpacing()], [1.0, 1.0, 1.0])
        values = slicer.util.arrayFromVolume(preprocessed)
        self.assertLess(abs(float(values.mean())), 5.0)  # z-score normalised over the head
        self.assertIsNotNone(slicer.mrmlScene.GetFirstNodeByName(f"{volumeNode.GetName()} bias field"))

    def test_deep_features_with_saved_weights(self):
        import os
        import tempfile

        volumeNode, big, small = self._volumeAndSpheres()
        segmentationNode = self._segmentation(volumeNode, {"Big": big})
        logic = slicer.util.getModuleLogic("RadiomicsWorkshop")
        self.assertTrue(logic.ensureDependencies(prompt=False, deep=True))
        import torch
        from monai.networks.nets import resnet18

        weights = os.path.join(tempfile.mkdtemp(), "resnet18.pt")
        torch.manual_seed(0)
        torch.save(resnet18(spatial_dims=2, n_input_channels=3, conv1_t_size=7, conv1_t_stride=2,
                            num_classes=1000).state_dict(), weights)
        table = logic.extractDeepFeatures(volumeNode, segmentationNode, model="resnet18", weights=weights)
        self.assertEqual(table.GetNumberOfRows(), 1)
        self.assertIsNotNone(table.GetTable().GetColumnByName("deep_resnet18_0"))

    def test_train_then_predict_the_current_case(self):
        """A cohort table whose label follows the ROI's mean intensity: train from a table node, get the
        metrics table, the ROC and calibration charts and the report, then predict the current case."""
        import csv
        import os
        import tempfile

        volumeNode, big, small = self._volumeAndSpheres()
        segmentationNode = self._segmentation(volumeNode, {"Tumor": big})
        logic = slicer.util.getModuleLogic("RadiomicsWorkshop")
        self.assertTrue(logic.ensureDependencies(prompt=False))
        features = logic.extractFeatures(volumeNode, segmentationNode, preset="MR")
        columns = ["original_firstorder_Mean", "original_firstorder_Median", "original_shape_VoxelVolume"]
        folder = tempfile.mkdtemp()
        rng = np.random.default_rng(0)
        cohortFile = os.path.join(folder, "cohort.csv")
        with open(cohortFile, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["case_id", "roi"] + columns + ["label"])
            for index in range(60):
                mean = rng.normal(0, 1)
                writer.writerow([f"case{index:02d}", "Tumor", mean, mean + rng.normal(0, 0.3), rng.normal(1000, 100),
                                 "high" if mean + rng.normal(0, 0.5) > 0 else "low"])
        cohortNode = logic.loadFeatureTable(cohortFile, name="Cohort")
        modelFolder = os.path.join(folder, "model")
        metrics = logic.trainModel(featureTableNode=cohortNode, outcome="label", modelFolder=modelFolder)
        self.assertEqual(metrics.GetNumberOfRows(), 8)
        self.assertTrue(logic.hasModel(modelFolder))
        self.assertTrue(os.path.isfile(os.path.join(modelFolder, "report.html")))
        self.assertGreaterEqual(len(slicer.util.getNodesByClass("vtkMRMLPlotChartNode")), 2)
        self.assertIn("AUC", logic.modelSummary(modelFolder))
        predictions = logic.predictCase(modelFolder, [features])
        self.assertEqual(predictions.GetNumberOfRows(), 1)
        self.assertIn(logic.predictionSummary(predictions).split(": ")[1].split(" ")[0], ("high", "low"))

    def test_auto_segmentation_with_a_bundle(self):
        """A MONAI bundle (model-zoo layout, weights written here) runs on the volume: the result is a
        segmentation node on the volume's geometry, compared with a drawn ROI."""
        import json
        import os
        import tempfile

        volumeNode, big, small = self._volumeAndSpheres()
        reference = self._segmentation(volumeNode, {"Drawn": big})
        logic = slicer.util.getModuleLogic("RadiomicsWorkshop")
        self.assertTrue(logic.ensureDependencies(prompt=False, deep=True))
        import torch
        from monai.networks.nets import UNet

        bundle = tempfile.mkdtemp()
        os.makedirs(os.path.join(bundle, "configs"))
        os.makedirs(os.path.join(bundle, "models"))
        network = {"_target_": "UNet", "spatial_dims": 3, "in_channels": 1, "out_channels": 2,
                   "channels": [8, 16, 32], "strides": [2, 2], "num_res_units": 1}
        config = {"network_def": network, "preprocessing": {"_target_": "Compose", "transforms": [
            {"_target_": "Orientationd", "keys": "image", "axcodes": "RAS"},
            {"_target_": "Spacingd", "keys": "image", "pixdim": [2.0, 2.0, 2.0], "mode": "bilinear"},
            {"_target_": "NormalizeIntensityd", "keys": "image", "nonzero": True}]},
            "inferer": {"_target_": "SlidingWindowInferer", "roi_size": [64, 64, 64], "sw_batch_size": 2}}
        with open(os.path.join(bundle, "configs", "inference.json"), "w") as handle:
            json.dump(config, handle)
        with open(os.path.join(bundle, "configs", "metadata.json"), "w") as handle:
            json.dump({"network_data_format": {"outputs": {"pred": {"channel_def": {"0": "background",
                                                                                    "1": "tumor"}}}}}, handle)
        torch.manual_seed(0)
        torch.save(UNet(3, 1, 2, [8, 16, 32], [2, 2], num_res_units=1).state_dict(),
                   os.path.join(bundle, "models", "model.pt"))
        result = logic.autoSegment(volumeNode, bundle, referenceNode=reference)
        self.assertTrue(result.IsA("vtkMRMLSegmentationNode"))
        self.assertIn("Segments:", logic.autoSegmentationSummary(result))
        comparison = result.GetAttribute("RadiomicsWorkshop.Dice")  # set when a reference was given
        self.assertIsNotNone(comparison)
        self.assertRegex(comparison, r"label 1: Dice [01]\.\d{3}, HD95 ")
        self.assertIn(comparison, logic.autoSegmentationSummary(result))

    def test_workshop_sample_case_from_sample_data(self):
        """The workshop's own sample data: brain1 from the Sample Data module (image and its ROI as a
        segmentation), preprocessed and extracted as a participant would."""
        import SampleData

        from RadiomicsWorkshop import registerSampleData

        registerSampleData()
        volumeNode, segmentationNode = SampleData.downloadSamples("brain1")
        self.assertEqual(volumeNode.GetClassName(), "vtkMRMLScalarVolumeNode")
        self.assertEqual(segmentationNode.GetClassName(), "vtkMRMLSegmentationNode")
        self.assertEqual(segmentationNode.GetSegmentation().GetNumberOfSegments(), 1)
        logic = slicer.util.getModuleLogic("RadiomicsWorkshop")
        self.assertTrue(logic.ensureDependencies(prompt=False))
        table = logic.extractFeatures(volumeNode, segmentationNode, preset="MR")
        self.assertEqual(table.GetNumberOfRows(), 1)
        self.assertGreater(table.GetNumberOfColumns(), 100)
