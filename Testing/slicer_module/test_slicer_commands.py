"""The command lines the Slicer module runs, run here against the real command line interface.

The module builds every command with RadiomicsWorkshopLib.commands and reads
the output with commands.parse_event and commands.ProgressReader; this test
does the same, on the PyRadiomics sample cases (train/predict on a generated
table with a known signal), so what Slicer runs is what is tested here.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk
from clitools import write_untrained_bundle
from RadiomicsWorkshopLib import commands


def run_as_the_module_does(args: list[str]) -> tuple[int, commands.ProgressReader, list[str]]:
    """``python -m RadiomicsWorkshopLib <args>`` with its output read line by line as CoreProcess reads it:
    JSON events to the ProgressReader, other lines kept as the log."""
    reader = commands.ProgressReader()
    lines: list[str] = []
    process = subprocess.Popen([sys.executable, "-m", "RadiomicsWorkshopLib", *map(str, args)],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for line in process.stdout:
        lines.append(line.rstrip())
        event = commands.parse_event(line)
        if event is not None:
            reader.handle(event)
    return process.wait(), reader, lines


def assert_succeeded(args: list[str], out: Path) -> commands.ProgressReader:
    code, reader, lines = run_as_the_module_does(args)
    assert reader.failure(code, lines) is None, "\n".join(lines[-30:])
    assert not reader.errors and reader.result is not None and Path(reader.result["path"]) == out
    if reader.progress:  # the batch steps report progress the module shows in its bar
        assert reader.progress[-1][0] == reader.progress[-1][1] >= 1
    return reader


def known_signal_table(path: Path, patients: int = 40) -> Path:
    """A radiomics-like table where 3 of 30 features carry the outcome (ground truth known)."""
    rng = np.random.default_rng(7)
    label = np.array([i % 2 for i in range(patients)])
    features = rng.normal(size=(patients, 30))
    features[:, :3] += 1.5 * label[:, None]
    table = pd.DataFrame(features, columns=[f"original_firstorder_F{i}" for i in range(30)])
    table.insert(0, "case_id", [f"p{i:02d}" for i in range(patients)])
    table.insert(1, "roi", "1")
    table["label"] = label
    table.to_csv(path, index=False)
    return path


@pytest.mark.slow
def test_every_step_the_module_runs(tmp_path, data_dir):
    image, mask = data_dir / "brain1_image.nrrd", data_dir / "brain1_label.nrrd"

    # 2. Preprocess (a recipe name, as the module's recipe list offers).
    pre = tmp_path / "pre"
    assert_succeeded(commands.preprocessing_args(str(image), str(pre), "brain_MR", str(mask), bias_field=True,
                                                 case_id="brain1"), pre / "manifest.csv")
    assert (pre / "bias_fields").is_dir()
    written = pd.read_csv(pre / "manifest.csv")["image"].iloc[0]  # the module finds the bias field as it is written
    assert Path(commands.bias_field_path(str(pre), str(pre / written))).is_file()

    # 3. Radiomics features of two segments (label values), preset and parameter file.
    features = tmp_path / "features.csv"
    assert_succeeded(commands.extraction_args(str(image), str(mask), str(features), preset="MR", rois=["1"],
                                              case_id="brain1"), features)
    table = pd.read_csv(features)
    assert list(table["case_id"]) == ["brain1"] and len(table.columns) > 100

    # 4. Deep features with a weights file (the module passes a path or "pretrained").
    import torch
    from RadiomicsWorkshopLib.deep.embeddings import build_model

    weights = tmp_path / "resnet18.pt"
    torch.save(build_model("resnet18", "random", seed=1).state_dict(), weights)
    deep = tmp_path / "deep.csv"
    assert_succeeded(commands.deep_features_args(str(image), str(mask), str(deep), "resnet18", str(weights),
                                                 case_id="brain1", device="cpu"), deep)
    assert pd.read_csv(deep).filter(like="deep_resnet18_").shape[1] >= 512

    # 5. Train on a cohort table, then predict the way the module predicts the current case.
    cohort = known_signal_table(tmp_path / "cohort.csv")
    model = tmp_path / "model"
    reader = assert_succeeded(commands.training_args([str(cohort)], "label", str(model), classifier="logistic",
                                                     selection="anova"), model)
    assert reader.progress and (model / "report.html").is_file() and (model / "metrics.csv").is_file()
    metrics = pd.read_csv(model / "metrics.csv")
    assert metrics.loc[metrics["metric"] == "auc", "estimate"].iloc[0] >= 0.8
    summary = commands.card_summary(str(model))  # what the module's modelSummary shows
    assert summary["kind"] == "radiomics" and summary["auc"] == metrics.loc[metrics["metric"] == "auc", "estimate"].iloc[0]
    assert summary["ci95"][0] <= summary["auc"] <= summary["ci95"][1] and summary["features"] >= 1
    predictions = tmp_path / "predictions.csv"
    assert_succeeded(commands.prediction_args(str(model), [str(cohort)], str(predictions)), predictions)
    assert {"predicted", "probability_1"} <= set(pd.read_csv(predictions).columns)

    # 6. Auto-segmentation with a bundle, compared with a reference label map.
    bundle = write_untrained_bundle(tmp_path / "bundle")
    segmentation, seg_metrics = tmp_path / "seg.nrrd", tmp_path / "seg_metrics.csv"
    assert_succeeded(commands.segmentation_args(str(image), str(bundle), str(segmentation), reference=str(mask),
                                                metrics_out=str(seg_metrics), device="cpu"), segmentation)
    assert sitk.ReadImage(str(segmentation)).GetSize() == sitk.ReadImage(str(image)).GetSize()
    assert {"dice", "hausdorff95_mm"} <= set(pd.read_csv(seg_metrics).columns)
    rows = commands.read_segmentation_metrics(str(seg_metrics))  # the module's summary of the comparison
    assert rows and all(isinstance(row["dice"], float) and isinstance(row["hausdorff95_mm"], float) for row in rows)
    assert commands.read_bundle_label_names(str(bundle)) == {"0": "background", "1": "lesion"}


def test_a_failing_step_gives_the_message_box_its_text(tmp_path, data_dir):
    """A mask that does not exist: the run fails; the module's message box says what is wrong and what to
    do (from the core's error event, not a traceback), and the event names the case and the file."""
    missing = tmp_path / "nowhere_label.nrrd"
    code, reader, lines = run_as_the_module_does(commands.extraction_args(
        str(data_dir / "brain1_image.nrrd"), str(missing), str(tmp_path / "f.csv"), case_id="brain1"))
    text = reader.failure(code, lines)
    assert code == 1 and text.startswith("mask file not found") and "\nWhat to do: check the path" in text, text
    assert [(e["case_id"], e["file"]) for e in reader.error_events] == [("brain1", str(missing))]
    assert "Traceback" not in text


def test_non_event_lines_are_log_lines():
    assert commands.parse_event('{"event": "progress", "done": 1, "total": 2}') == {"event": "progress", "done": 1,
                                                                                    "total": 2}
    for line in ("WARNING: something", "[1, 2]", '{"no": "event"}', ""):
        assert commands.parse_event(line) is None


@pytest.mark.slow
def test_cnn_training_and_comparison_as_the_module_runs_them(tmp_path):
    """The module's CNN section: train-cnn on a cohort manifest, a second network on its folds, and the
    comparison report, each read through the ProgressReader."""
    done = subprocess.run([sys.executable, "-m", "RadiomicsWorkshopLib", "sample-data", "--phantoms", "8", "--kind",
                           "slices", "--dest", str(tmp_path / "cohort")], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    manifest = str(tmp_path / "cohort" / "manifest.csv")
    first, second = tmp_path / "cnn", tmp_path / "cnn2"
    reader = assert_succeeded(commands.cnn_training_args(manifest, "label", str(first), backbone="resnet10", width=8,
                                                         crop=32, epochs=2, outer_folds=2, device="cpu"), first)
    assert reader.progress and (first / "metrics.csv").is_file() and (first / "roc.csv").is_file()
    summary = commands.card_summary(str(first))
    assert summary["kind"] == "cnn" and summary["backbone"] == "resnet10" and summary["dims"] == 2
    assert_succeeded(commands.cnn_training_args(manifest, "label", str(second), folds=str(first / "folds.csv"),
                                                backbone="resnet10", width=8, crop=32, epochs=1, outer_folds=2,
                                                device="cpu"), second)
    report = first / "report.html"
    assert_succeeded(commands.comparison_args(str(first), [str(second)]), report)
    table = pd.read_csv(first / "comparison.csv")
    assert table["model"].tolist() == ["cnn", "cnn2"] and "Comparison on the same patients" in report.read_text()


@pytest.mark.slow
def test_the_ibsi_check_as_the_module_runs_it(tmp_path):
    """Logic.ibsiCheck: ``ibsi-check`` on the CT phantom's configuration C, read as the module reads it; a
    regression (a reference value moved) is a failure whose message names the family."""
    import shutil

    from RadiomicsWorkshopLib.features.ibsi.reference import default_reference_dir

    data = default_reference_dir()
    if not (data / "ct_phantom").is_dir():
        pytest.fail(f"the IBSI data are not in {data} (see ../shared/data/ibsi/README.md)", pytrace=False)
    only_ct = tmp_path / "ct"  # the CT phantom alone, linked (CC BY-NC: never copied)
    only_ct.mkdir()
    (only_ct / "ct_phantom").symlink_to(data / "ct_phantom")
    shutil.copy(data / "ct_phantom_reference.csv", only_ct)
    table = tmp_path / "check.csv"
    reader = assert_succeeded(commands.ibsi_check_args(str(only_ct), str(table), ["C"]), table)
    checked = pd.read_csv(table)
    assert set(checked["configuration"]) == {"C"} and not checked["regressed"].any()
    assert reader.result is not None
    reference = pd.read_csv(only_ct / "ct_phantom_reference.csv", keep_default_na=False, dtype=str)
    reference.loc[(reference["data"] == "config. C") & (reference["ibsi_id"] == "RNU0"), "value"] = "1"
    reference.to_csv(only_ct / "ct_phantom_reference.csv", index=False)
    code, reader, lines = run_as_the_module_does(commands.ibsi_check_args(str(only_ct), str(table), ["C"]))
    failure = reader.failure(code, lines)
    assert code == 1 and failure and "C Morphological features (23 < 24)" in failure, failure


@pytest.mark.slow
def test_feature_robustness_as_the_module_runs_it(tmp_path):
    """Logic.robustness: ``robustness`` on three generated cases, its progress read as the module reads it,
    the ICC table where the module loads it from."""
    import SimpleITK as sitk

    rows = ["case_id,image,mask"]
    for k in range(3):
        array = np.full((20, 20, 20), -50.0)
        array[5:15, 5:15, 4 + k:16] = 40.0 + 10 * k
        array += np.random.default_rng(k).normal(0.0, 5.0, array.shape)
        image, mask = sitk.GetImageFromArray(array), sitk.GetImageFromArray((array > 0).astype(np.uint8))
        sitk.WriteImage(image, str(tmp_path / f"c{k}.nii.gz"))
        sitk.WriteImage(mask, str(tmp_path / f"c{k}_mask.nii.gz"))
        rows.append(f"c{k},{tmp_path / f'c{k}.nii.gz'},{tmp_path / f'c{k}_mask.nii.gz'}")
    (tmp_path / "cases.csv").write_text("\n".join(rows) + "\n")
    out = tmp_path / "robustness"
    reader = assert_succeeded(commands.robustness_args(str(tmp_path / "cases.csv"), str(out), "MR", "N", 3),
                              out / "features.csv")
    icc = pd.read_csv(out / "icc.csv")  # where Logic.startRobustness loads the table from
    assert {"feature", "family", "icc1", "icc1_low", "icc1_high", "ccc"} <= set(icc.columns) and len(icc) > 50
    assert reader.result is not None and (out / "icc.png").is_file()
