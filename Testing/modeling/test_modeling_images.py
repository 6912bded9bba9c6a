"""Modelling on features this project extracts from images.

A generated cohort of 3D lesions whose two classes differ in texture (fine vs
coarse grain) and shape (round vs elongated), scanned at two sites with
different intensity scales, goes through `extract` and `train --harmonize`
(the command line, as a user runs it); the model then predicts the
PyRadiomics sample cases, real images it has never seen.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk
from clitools import cli
from RadiomicsWorkshopLib.examples.phantoms import lesion_phantom  # the demo's generator: its classes differ by design
from sklearn.metrics import roc_auc_score

PARAMS = ("imageType: {Original: {}}\n"
          "featureClass: {shape: [], firstorder: [], glcm: [], glrlm: [], glszm: []}\n"
          "setting: {binWidth: 25}\n")


@pytest.fixture(scope="module")
def lesion_cohort(tmp_path_factory):
    folder = tmp_path_factory.mktemp("lesions")
    rng = np.random.default_rng(2024)
    rows = []
    for i in range(40):
        coarse, site = i % 2 == 1, "AB"[(i // 2) % 2]
        image, mask = lesion_phantom(rng, coarse, site)
        sitk.WriteImage(image, str(folder / f"lesion{i:02d}.nrrd"))
        sitk.WriteImage(mask, str(folder / f"lesion{i:02d}_label.nrrd"))
        rows.append({"case_id": f"lesion{i:02d}", "image": f"lesion{i:02d}.nrrd", "mask": f"lesion{i:02d}_label.nrrd",
                     "patient_id": f"P{i:02d}", "label": "coarse" if coarse else "fine", "site": site})
    pd.DataFrame(rows).to_csv(folder / "manifest.csv", index=False)
    (folder / "params.yaml").write_text(PARAMS)
    cli("extract", "--manifest", folder / "manifest.csv", "--params", folder / "params.yaml",
        "--out", folder / "features.csv", "--progress", "none")
    return folder


@pytest.mark.slow
def test_model_on_extracted_features_finds_the_class_difference_and_predicts_real_cases(lesion_cohort, data_dir,
                                                                                        tmp_path):
    folder = lesion_cohort
    cli("train", "--table", folder / "features.csv", "--clinical", folder / "manifest.csv", "--outcome", "label",
        "--site", "site", "--harmonize", "--selection", "mrmr", "--k", "5,10", "--bootstrap", "200",
        "--out", tmp_path / "model", "--progress", "none")
    card = json.loads((tmp_path / "model" / "card.json").read_text())
    cv = card["cross_validation"]
    assert cv["metrics"]["auc"] >= 0.9, cv["metrics"]
    assert card["training_data"]["patients"] == 40 and card["training_data"]["sites"] == ["A", "B"]
    assert card["final_model"]["steps"][0] == "harmonize"
    # What separates the classes is texture and shape: the features the final model uses are such features, and
    # each of them alone tells the classes apart at both sites (AUC 1 within each site, either direction). Of the
    # 88 features offered, a selection that ignored the outcome would almost never pick five that all do.
    used = card["final_model"]["selected_features"]
    assert all(name.startswith(("original_glcm", "original_glrlm", "original_glszm", "original_shape"))
               for name in used), used
    table = pd.read_csv(folder / "features.csv").merge(pd.read_csv(folder / "manifest.csv"), on="case_id")
    for name in used:
        for site, rows in table.groupby("site"):
            auc = roc_auc_score(rows["label"] == "coarse", rows[name])
            assert max(auc, 1 - auc) >= 0.99, (name, site, auc)
    assert all(fold["hyperparameters"].get("select__k") in (5, 10) for fold in cv["per_fold"])
    # Real images: the PyRadiomics sample cases, extracted with the same settings, sites given.
    manifest = pd.DataFrame({
        "case_id": ["brain1", "brain2", "breast1", "lung1", "lung2"],
        "image": [str(data_dir / f"{n}_image.nrrd") for n in ["brain1", "brain2", "breast1", "lung1", "lung2"]],
        "mask": [str(data_dir / f"{n}_label.nrrd") for n in ["brain1", "brain2", "breast1", "lung1", "lung2"]],
        "site": ["A", "A", "B", "B", "B"]})
    manifest.to_csv(tmp_path / "real.csv", index=False)
    cli("extract", "--manifest", tmp_path / "real.csv", "--params", folder / "params.yaml",
        "--out", tmp_path / "real_features.csv", "--progress", "none")
    cli("predict", "--model", tmp_path / "model", "--table", tmp_path / "real_features.csv",
        "--clinical", tmp_path / "real.csv", "--out", tmp_path / "predictions.csv")
    predictions = pd.read_csv(tmp_path / "predictions.csv")
    assert list(predictions["case_id"]) == list(manifest["case_id"])
    assert set(predictions["predicted"]) <= {"coarse", "fine"}
    probabilities = predictions[["probability_coarse", "probability_fine"]].to_numpy()
    assert np.all((probabilities >= 0) & (probabilities <= 1))
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0)
