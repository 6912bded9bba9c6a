"""End-to-end CNN classification, compared with the radiomics model on the same patients.

A generated slice-wise cohort (``sample-data --phantoms 32 --kind slices``: four thick slices through a
round lesion whose two classes differ only in the grain of their texture) goes through the command line
as a user runs it: radiomics features -> ``train`` (nested CV); deep features -> ``train`` on the radiomics
model's folds; ``train-cnn`` on the same folds; ``report --compare`` (radiomics + deep, a merged table
through the same ``train``, is left out to keep the suite's time). The CNN
must learn the texture (AUC >= 0.9 on held-out patients), on exactly the folds of the radiomics model,
with no patient on both sides of any split, and reload in a fresh process with identical predictions.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
from clitools import cli
from RadiomicsWorkshopLib.cnn.network import build_network, fit_network, load_pretrained
from RadiomicsWorkshopLib.cnn.settings import CnnSettings
from RadiomicsWorkshopLib.cnn.workflow import items_for, read_cohort
from RadiomicsWorkshopLib.io.errors import InputError, SettingsError
from RadiomicsWorkshopLib.modeling.compare import compare_models, delong, delong_test

PARAMS = ("imageType: {Original: {}}\n"
          "featureClass: {shape: [], firstorder: [], glcm: [], glrlm: [], glszm: []}\n"
          "setting: {binWidth: 25}\n")
PATIENTS = 32
CNN = ["--backbone", "resnet10", "--width", "16", "--crop", "48", "--epochs", "15", "--patience", "5",
       "--batch-size", "16", "--bootstrap", "100", "--progress", "none"]


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """The cohort, the radiomics and deep-feature models, the CNN on their folds, the report."""
    root = tmp_path_factory.mktemp("cnn_study")
    cli("sample-data", "--phantoms", PATIENTS, "--kind", "slices", "--dest", root / "cohort")
    manifest = root / "cohort" / "manifest.csv"
    (root / "params.yaml").write_text(PARAMS)
    cli("extract", "--manifest", manifest, "--params", root / "params.yaml", "--out", root / "radiomics.csv",
        "--progress", "none")
    cli("deep-features", "--manifest", manifest, "--model", "resnet18", "--weights", "random",
        "--out", root / "deep.csv", "--progress", "none")
    common = ["--clinical", manifest, "--outcome", "label", "--bootstrap", 100, "--progress", "none"]
    cli("train", "--table", root / "radiomics.csv", *common, "--out", root / "radiomics")
    folds = root / "radiomics" / "folds.csv"
    cli("train", "--table", root / "deep.csv", *common, "--k", 5, "--inner-folds", 3, "--folds", folds,
        "--out", root / "deep")
    cli("train-cnn", "--manifest", manifest, "--outcome", "label", "--folds", folds, *CNN, "--out", root / "cnn")
    cli("report", "--model", root / "radiomics", "--compare", root / "deep", root / "cnn",
        "--bootstrap", 100)
    return root


def _card(folder):
    return json.loads((folder / "card.json").read_text())


@pytest.mark.slow
def test_the_cnn_learns_the_texture_on_held_out_patients(study):
    card = _card(study / "cnn")
    cv = card["cross_validation"]
    assert cv["metrics"]["auc"] >= 0.9, cv["metrics"]
    assert card["training_data"] == {**card["training_data"], "cases": PATIENTS, "patients": PATIENTS,
                                     "inputs": 4 * PATIENTS}
    predictions = pd.read_csv(study / "cnn" / "predictions.csv")
    assert len(predictions) == PATIENTS and predictions["fold"].between(1, 5).all()
    # 2D: four slice predictions per case, averaged into the case's prediction
    slices = pd.read_csv(study / "cnn" / "slice_predictions.csv")
    assert len(slices) == 4 * PATIENTS
    mean = slices.groupby("case_id")["probability_fine"].mean()
    assert np.allclose(predictions.set_index("case_id")["probability_fine"].loc[mean.index], mean, atol=1e-6)
    # early stopping and the schedule ran: every network kept its best epoch by validation loss
    for fold in cv["per_fold"]:
        best = min(fold["history"], key=lambda h: h["validation_loss"])
        assert fold["best_epoch"] == best["epoch"] and fold["epochs_run"] == len(fold["history"])


@pytest.mark.slow
def test_same_folds_as_the_radiomics_model_and_no_patient_on_both_sides(study):
    radiomics = pd.read_csv(study / "radiomics" / "folds.csv", dtype={"group": str})
    for name in ("cnn", "deep"):
        other = pd.read_csv(study / name / "folds.csv", dtype={"group": str})
        assert dict(zip(other["group"], other["fold"])) == dict(zip(radiomics["group"], radiomics["fold"])), name
    everyone = set(radiomics["group"])
    card = _card(study / "cnn")
    for fold in card["cross_validation"]["per_fold"]:
        train, validation, test = (set(fold[k]) for k in ("train_groups", "validation_groups", "test_groups"))
        assert not train & test and not validation & test and not train & validation
        assert train | validation | test == everyone
        assert test == set(radiomics.loc[radiomics["fold"] == fold["fold"], "group"])
    radiomics_predictions = pd.read_csv(study / "radiomics" / "predictions.csv")
    cnn_predictions = pd.read_csv(study / "cnn" / "predictions.csv")
    merged = radiomics_predictions.merge(cnn_predictions, on="case_id", suffixes=("_r", "_c"))
    assert len(merged) == PATIENTS and (merged["fold_r"] == merged["fold_c"]).all()


@pytest.mark.slow
def test_the_report_compares_the_models(study):
    table = pd.read_csv(study / "radiomics" / "comparison.csv")
    assert table["model"].tolist() == ["radiomics", "deep", "cnn"]
    assert table.set_index("model").loc["cnn", "auc"] >= 0.9
    assert (table["auc_ci95_low"] <= table["auc"]).all() and (table["auc"] <= table["auc_ci95_high"]).all()
    radiomics_auc = _card(study / "radiomics")["cross_validation"]["metrics"]["auc"]
    assert np.isclose(table.set_index("model").loc["radiomics", "auc"], radiomics_auc)
    tests = pd.read_csv(study / "radiomics" / "comparison_delong.csv")
    assert len(tests) == 3 and tests["p"].between(0, 1).all()
    # Each pair's test is DeLong's on the two models' out-of-fold predictions of the same patients.
    predictions = {name: pd.read_csv(study / name / "predictions.csv").set_index("case_id")
                   for name in ("radiomics", "deep", "cnn")}
    card = _card(study / "radiomics")
    column = f"probability_{card['positive_class']}"
    for row in tests.itertuples():
        a, b = predictions[row.model_a], predictions[row.model_b].loc[predictions[row.model_a].index]
        truth = (a[card["outcome"]].astype(str) == str(card["positive_class"])).to_numpy()
        expected = delong_test(truth, a[column].to_numpy(), b[column].to_numpy())
        assert row.auc_a == pytest.approx(expected["auc_a"]) and row.auc_b == pytest.approx(expected["auc_b"])
        assert row.p == pytest.approx(expected["p"], rel=1e-9, abs=1e-12)
    report = (study / "radiomics" / "report.html").read_text()
    assert "Comparison on the same patients" in report and "DeLong" in report
    assert all(f"<td class=l>{name}</td>" in report for name in ("radiomics", "deep", "cnn"))
    assert (study / "cnn" / "report.html").read_text().count("<img") >= 4  # ROC, confusion, calibration, curves


@pytest.mark.slow
def test_a_saved_classifier_reloads_in_a_fresh_process_with_identical_predictions(study, tmp_path):
    cli("predict-cnn", "--model", study / "cnn", "--manifest", study / "cohort" / "manifest.csv",
        "--out", tmp_path / "again.csv", "--progress", "none")
    trained = pd.read_csv(study / "cnn" / "training_predictions.csv")
    again = pd.read_csv(tmp_path / "again.csv")
    assert again["case_id"].tolist() == trained["case_id"].tolist()
    for column in ("probability_coarse", "probability_fine"):
        assert np.abs(again[column] - trained[column]).max() <= 1e-6
    assert (again["predicted"] == trained["predicted"]).all()
    # a changed weights file is refused
    weights = study / "cnn" / "models" / "model.pt"
    saved = weights.read_bytes()
    try:
        weights.write_bytes(saved[:-10] + b"0123456789")
        failed = cli("predict-cnn", "--model", study / "cnn", "--manifest", study / "cohort" / "manifest.csv",
                     "--out", tmp_path / "changed.csv", check=False)
        assert failed.returncode != 0 and "does not match the hash recorded in card.json" in failed.stderr
    finally:
        weights.write_bytes(saved)


@pytest.mark.slow
def test_a_model_on_other_folds_is_not_compared(study, tmp_path):
    import shutil

    moved = tmp_path / "cnn_other_folds"
    shutil.copytree(study / "cnn", moved)
    folds = pd.read_csv(moved / "folds.csv", dtype={"group": str})
    folds.loc[0, "fold"] = folds["fold"].max() if folds.loc[0, "fold"] != folds["fold"].max() else 1
    folds.to_csv(moved / "folds.csv", index=False)
    with pytest.raises(InputError, match="validated on other folds than 'radiomics' .1 patient.s. differ") as caught:
        compare_models([study / "radiomics", moved], bootstrap=10)
    assert f"--folds {study / 'radiomics' / 'folds.csv'}" in caught.value.hint
    missing = tmp_path / "cnn_fewer_cases"
    shutil.copytree(study / "cnn", missing)
    pd.read_csv(missing / "predictions.csv").iloc[1:].to_csv(missing / "predictions.csv", index=False)
    with pytest.raises(InputError, match="validated on different cases .1 differ"):
        compare_models([study / "radiomics", missing], bootstrap=10)


def test_delong_equals_its_definition():
    """Fast DeLong (midranks) against the structural components computed pair by pair, with ties."""
    rng = np.random.default_rng(5)
    truth = rng.random(60) < 0.4
    scores = np.round(np.vstack([truth + rng.normal(0, 1.0, 60), truth + rng.normal(0, 1.5, 60)]), 1)
    aucs, cov = delong(truth, scores)

    def psi(a, b):
        return (a > b) + 0.5 * (a == b)

    v10 = np.array([[psi(x, scores[r, ~truth]).mean() for x in scores[r, truth]] for r in range(2)])
    v01 = np.array([[psi(scores[r, truth], y).mean() for y in scores[r, ~truth]] for r in range(2)])
    assert np.allclose(aucs, v10.mean(axis=1))
    assert np.allclose(cov, np.cov(v10) / truth.sum() + np.cov(v01) / (~truth).sum())
    result = delong_test(truth, scores[0], scores[1])
    assert result["auc_a"] > result["auc_b"] and 0 < result["p"] < 1
    # z = (AUC_a - AUC_b) / sqrt(var_a + var_b - 2 cov_ab), two-sided normal p
    from scipy.stats import norm

    z = (aucs[0] - aucs[1]) / np.sqrt(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1])
    assert result["z"] == pytest.approx(z) and result["p"] == pytest.approx(2 * norm.sf(abs(z)), rel=1e-12)
    assert np.isclose(delong_test(truth, scores[1], scores[0])["p"], result["p"])
    assert delong_test(truth, scores[0], scores[0])["p"] == 1.0


def test_fine_tuning_loads_the_weights_of_a_file(tmp_path):
    settings = CnnSettings(backbone="resnet10", width=8, crop=32).check()
    torch.manual_seed(1)
    source = build_network(settings, 2)
    torch.save(source.state_dict(), tmp_path / "weights.pt")
    target = build_network(settings, 3)  # another head: everything else loads
    record = load_pretrained(target, tmp_path / "weights.pt")
    own = target.state_dict()
    for name, tensor in source.state_dict().items():
        if not name.startswith("fc."):
            assert torch.equal(own[name], tensor), name
    assert record["tensors_loaded"] == len(own) - 2 and not record["input_channels_adapted"]
    # ImageNet-style 3-channel first convolution onto a 1-channel network: summed over the channels
    rgb = {k: v for k, v in source.state_dict().items()}
    rgb["conv1.weight"] = rgb["conv1.weight"].repeat(1, 3, 1, 1) / 3
    torch.save(rgb, tmp_path / "rgb.pt")
    assert load_pretrained(build_network(settings, 2), tmp_path / "rgb.pt")["input_channels_adapted"] == ["conv1.weight"]
    other = build_network(CnnSettings(backbone="densenet121", crop=32).check(), 2)
    torch.save(other.state_dict(), tmp_path / "densenet.pt")
    with pytest.raises(InputError, match="the weights fit 0 of the network's") as caught:
        load_pretrained(build_network(settings, 2), tmp_path / "densenet.pt")
    assert "densenet.pt" in str(caught.value)


def test_training_resumes_from_its_checkpoint(tmp_path):
    cli("sample-data", "--phantoms", 8, "--kind", "slices", "--dest", tmp_path / "cohort")
    settings = CnnSettings(backbone="resnet10", width=8, crop=32, epochs=2, batch_size=8, augment=False).check()
    cohort = read_cohort(tmp_path / "cohort" / "manifest.csv", "label", settings)
    train, val = items_for(cohort, np.arange(6), settings), items_for(cohort, np.arange(6, 8), settings)
    checkpoint = tmp_path / "fold.pt"
    first = fit_network(train, val, settings, 2, torch.device("cpu"), checkpoint=checkpoint)
    assert len(first.history) == 2 and checkpoint.is_file()
    settings.epochs = 4  # the same run, asked to go on: the two epochs done are not trained again
    resumed = fit_network(train, val, settings, 2, torch.device("cpu"), checkpoint=checkpoint)
    assert [h["epoch"] for h in resumed.history] == [1, 2, 3, 4]
    assert resumed.history[:2] == first.history
    # seeded: the same training again (augmentation on, no checkpoint) gives the same losses
    settings.augment, settings.epochs = True, 2
    once = fit_network(train, val, settings, 2, torch.device("cpu"))
    twice = fit_network(train, val, settings, 2, torch.device("cpu"))
    assert once.history == twice.history and all(torch.equal(once.state[k], twice.state[k]) for k in once.state)
    settings.augment, settings.epochs = False, 4
    settings.learning_rate = 0.01  # other settings: the checkpoint is not used
    again = fit_network(train, val, settings, 2, torch.device("cpu"), checkpoint=checkpoint)
    assert [h["epoch"] for h in again.history] == [1, 2, 3, 4] and again.history[0] != first.history[0]


def test_bad_inputs_get_clear_errors(tmp_path):
    cli("sample-data", "--phantoms", 4, "--kind", "slices", "--dest", tmp_path / "cohort")
    manifest = tmp_path / "cohort" / "manifest.csv"
    settings = CnnSettings().check()
    with pytest.raises(InputError, match="no outcome column 'grade'.*columns: case_id"):
        read_cohort(manifest, "grade", settings)
    frame = pd.read_csv(manifest)
    frame.assign(label="fine").to_csv(tmp_path / "cohort" / "one_class.csv", index=False)
    with pytest.raises(InputError, match="a single class"):
        read_cohort(tmp_path / "cohort" / "one_class.csv", "label", settings)
    frame.loc[1, "mask"] = "missing_label.nrrd"
    frame.to_csv(tmp_path / "cohort" / "broken.csv", index=False)
    with pytest.raises(InputError, match="case 'slices01'.*missing_label.nrrd"):
        read_cohort(tmp_path / "cohort" / "broken.csv", "label", settings)
    with pytest.raises(SettingsError, match="unknown backbone 'vgg16'"):
        CnnSettings(backbone="vgg16").check()
    (tmp_path / "folds.csv").write_text("group,fold\nP00,1\nP01,2\n")
    failed = cli("train-cnn", "--manifest", manifest, "--outcome", "label", "--folds", tmp_path / "folds.csv",
                 "--out", tmp_path / "cnn", "--progress", "none", check=False)
    assert failed.returncode != 0 and "2 patient(s) have no fold in the given assignment" in failed.stderr


@pytest.mark.slow
def test_a_3d_network_on_patches(tmp_path):
    """--dims 3: one ROI-centred patch per case (the 3D lesion phantoms), through train-cnn and predict-cnn."""
    cli("sample-data", "--phantoms", 12, "--dest", tmp_path / "cohort")
    manifest = tmp_path / "cohort" / "manifest.csv"
    done = cli("train-cnn", "--manifest", manifest, "--outcome", "label", "--dims", 3, "--backbone", "resnet10",
               "--width", 8, "--crop", 24, "--epochs", 3, "--outer-folds", 2, "--validation-fraction", 0.25,
               "--bootstrap", 20, "--batch-size", 4, "--jobs", 1, "--progress", "none", "--out", tmp_path / "cnn")
    card = _card(tmp_path / "cnn")
    assert card["training_data"]["inputs"] == 12 and card["network_def"]["spatial_dims"] == 3
    # --jobs 1 on this 2-core machine: torch trained on one thread (torch.get_num_threads() in the training loop)
    assert card["threads"] == 1 and "1 thread(s)" in done.stderr, (card["threads"], done.stderr)
    assert not (tmp_path / "cnn" / "slice_predictions.csv").exists()
    assert not (tmp_path / "cnn" / "checkpoints").exists()  # removed once training is done
    cli("predict-cnn", "--model", tmp_path / "cnn", "--manifest", manifest, "--jobs", 1, "--out", tmp_path / "again.csv")
    trained = pd.read_csv(tmp_path / "cnn" / "training_predictions.csv")
    again = pd.read_csv(tmp_path / "again.csv")
    assert np.abs(again["probability_fine"] - trained["probability_fine"]).max() <= 1e-6
