"""Model development: no leakage, patient grouping, known signal, saved models, bad inputs.

The tables are generated where a known ground truth is needed (pure noise, a
planted signal, a patient-specific signal); test_modeling_images.py trains on
features this project extracts from images.
"""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pandas as pd
import pytest
from clitools import cli
from conftest import JOBS
from RadiomicsWorkshopLib.io.errors import InputError, OutputExistsError, SettingsError
from RadiomicsWorkshopLib.modeling.metrics import evaluate, point_metrics
from RadiomicsWorkshopLib.modeling.pipeline import check_trainable, nested_cross_validation, outer_splits, prepare_data
from RadiomicsWorkshopLib.modeling.settings import ModelSettings
from RadiomicsWorkshopLib.modeling.store import load_model
from RadiomicsWorkshopLib.modeling.workflow import predict_model, train_model


def noise_table(patients: int, features: int, seed: int, classes: int = 2) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    table = pd.DataFrame(rng.normal(size=(patients, features)), columns=[f"noise_{i}" for i in range(features)])
    table.insert(0, "case_id", [f"case-{i:03d}" for i in range(patients)])
    table["outcome"] = rng.integers(0, classes, patients)
    return table


# -- leakage


@pytest.mark.slow
def test_nested_cv_on_noise_is_at_chance_while_selecting_first_is_not():
    """500 noise features, 100 patients, random labels, selection on. Three tables, because one
    table's AUC varies by about 0.06 (SD) around its expectation with 100 patients."""
    from sklearn.feature_selection import SelectKBest, f_classif
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    nested, mistake = [], []
    for seed in range(3):
        table = noise_table(100, 500, seed)
        data = prepare_data(table, "outcome")
        cv = nested_cross_validation(data, ModelSettings(selection="anova", k=(10,)).check(), jobs=JOBS)
        nested.append(point_metrics(data.y, cv.proba, data.classes)["auc"])
        # The classic mistake: select the 10 best features on all rows, then cross-validate.
        X, y = data.X.to_numpy(), (data.y == "1").astype(int)
        chosen = SelectKBest(f_classif, k=10).fit(X, y).get_support()
        proba = cross_val_predict(make_pipeline(StandardScaler(), LogisticRegression()), X[:, chosen], y,
                                  cv=StratifiedKFold(5, shuffle=True, random_state=seed), method="predict_proba")
        mistake.append(roc_auc_score(y, proba[:, 1]))
    assert all(abs(auc - 0.5) <= 0.15 for auc in nested), nested
    assert abs(np.mean(nested) - 0.5) <= 0.1, nested
    assert min(mistake) >= 0.75, mistake
    assert all(wrong - right >= 0.2 for wrong, right in zip(mistake, nested)), (mistake, nested)


def patient_signal_table(seed: int = 0) -> pd.DataFrame:
    """40 patients x 5 rows (slices): each patient has its own feature profile and one label; the
    profile says nothing about the label, but identifies the patient's other rows."""
    rng = np.random.default_rng(seed)
    patients, rows = 40, 5
    profile = rng.normal(size=(patients, 30))
    labels = rng.permutation(np.arange(patients) % 2)
    values = np.repeat(profile, rows, axis=0) + 0.05 * rng.normal(size=(patients * rows, 30))
    table = pd.DataFrame(values, columns=[f"original_f{i}" for i in range(30)])
    table.insert(0, "case_id", [f"p{p:02d}" for p in range(patients) for _ in range(rows)])
    table.insert(1, "slice", [s for _ in range(patients) for s in range(rows)])
    table.insert(2, "patient_id", table["case_id"])
    table["row_id"] = np.arange(len(table)).astype(str)
    table["outcome"] = np.repeat(labels, rows)
    return table


@pytest.mark.slow
def test_grouped_cv_does_not_overestimate_as_row_level_cv_does():
    table = patient_signal_table()
    # An RBF SVM remembers rows as a random forest does (row-level CV AUC 1.0 with either), in a twentieth of the time.
    settings = ModelSettings(classifier="svm", selection="none", correlation_threshold=None).check()
    grouped = prepare_data(table, "outcome", exclude=["row_id"])  # patient_id is found and used
    assert grouped.group_column == "patient_id"
    for train, test in outer_splits(grouped, settings):
        assert not set(grouped.groups[train]) & set(grouped.groups[test])
    rows = prepare_data(table, "outcome", group="row_id")  # each row its own group: the mistake
    auc = {}
    for name, data in (("grouped", grouped), ("rows", rows)):
        cv = nested_cross_validation(data, settings, jobs=JOBS)
        auc[name] = point_metrics(data.y, cv.proba, data.classes)["auc"]
    assert abs(auc["grouped"] - 0.5) <= 0.2, auc
    assert auc["rows"] >= 0.85 and auc["rows"] - auc["grouped"] >= 0.3, auc


# -- known signal, binary and multiclass


def signal_table(patients: int = 150, features: int = 300, classes: int = 2, seed: int = 1) -> pd.DataFrame:
    """Noise features plus signal_0..signal_4, from which the outcome is drawn: a logistic model
    (two classes) or a multinomial one (three: each class favoured by its own signals)."""
    table = noise_table(patients, features, seed, classes).drop(columns=["outcome"])
    rng = np.random.default_rng(seed + 100)
    signals = rng.normal(size=(patients, 5))
    for i in range(5):
        table[f"signal_{i}"] = signals[:, i]
    if classes == 2:
        logit = 2.5 * signals @ np.array([1.0, -1.0, 1.0, -1.0, 1.0])
        y = (rng.random(patients) < 1 / (1 + np.exp(-logit))).astype(int)
        names = np.array(["benign", "malignant"])
    else:
        weights = 2.0 * np.array([[1, 0, -1], [-1, 1, 0], [0, -1, 1], [1, -1, 0], [0, 1, -1]], float)
        y = np.argmax(signals @ weights + rng.gumbel(size=(patients, 3)), axis=1)
        names = np.array(["glioma", "meningioma", "metastasis"])
    table["outcome"] = names[y]
    return table


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    folder = tmp_path_factory.mktemp("model")
    table = signal_table()
    table.to_csv(folder / "features.csv", index=False)
    result = train_model([folder / "features.csv"], "outcome", folder / "model",
                         ModelSettings(bootstrap=200).check(), jobs=2)
    return folder, table, result


@pytest.mark.slow
def test_known_signal_ranks_first_with_high_auc(trained):
    _, _, result = trained
    card = result.card
    signal = {f"signal_{i}" for i in range(5)}
    assert card["cross_validation"]["metrics"]["auc"] >= 0.85
    low, high = card["cross_validation"]["ci95"]["auc"]
    assert low < card["cross_validation"]["metrics"]["auc"] < high
    top = [row["feature"] for row in card["final_model"]["permutation_importance"][:5]]
    assert set(top) == signal, top
    assert all(card["selection_frequency"][name] == 5 for name in signal)  # kept in every outer fold
    assert card["training_data"]["patients"] == 150 and card["classes"] == ["benign", "malignant"]
    assert card["positive_class"] == "malignant"
    # The folder: model, card, out-of-fold predictions, folds, report.
    for name in ("model.skops", "card.json", "predictions.csv", "folds.csv", "report.html"):
        assert (result.folder / name).is_file(), name
    oof = pd.read_csv(result.folder / "predictions.csv")
    assert len(oof) == 150 and set(oof["fold"]) == {1, 2, 3, 4, 5}
    report = (result.folder / "report.html").read_text()
    for text in ("ROC", "Calibration", "Decision curve", "permutation importance", "TRIPOD+AI", "CLEAR", "Per fold"):
        assert text in report, text
    assert report.count("data:image/png;base64,") >= 5


@pytest.mark.slow
def test_multiclass_three_tumour_types(tmp_path):
    table = signal_table(patients=120, features=100, classes=3, seed=2)
    table.to_csv(tmp_path / "f.csv", index=False)
    result = train_model([tmp_path / "f.csv"], "outcome", tmp_path / "model",
                         ModelSettings(classifier="random_forest", selection="mrmr", k=(8,), bootstrap=100,
                                       outer_folds=3, inner_folds=3).check(),
                         jobs=JOBS)
    cv = result.card["cross_validation"]
    assert cv["classes"] == ["glioma", "meningioma", "metastasis"]
    assert np.array(cv["confusion_matrix"]).shape == (3, 3)
    assert cv["metrics"]["auc"] >= 0.8, cv["metrics"]
    assert result.card["positive_class"] is None and cv["decision_curve"] is None
    predictions = predict_model(tmp_path / "model", [tmp_path / "f.csv"], tmp_path / "p.csv")
    assert list(predictions.columns[-3:]) == [f"probability_{c}" for c in cv["classes"]]
    np.testing.assert_allclose(predictions.iloc[:, -3:].sum(axis=1), 1.0)


# -- saved model


@pytest.mark.slow
def test_saved_model_predicts_identically_in_a_fresh_process(trained, tmp_path):
    folder, table, result = trained
    new = table.drop(columns=["outcome"]).sample(frac=1.0, random_state=0).head(20)
    new = new[new.columns[::-1]]  # column order does not matter, names do
    new.to_csv(tmp_path / "new.csv", index=False)
    here = predict_model(result.folder, [tmp_path / "new.csv"], tmp_path / "here.csv")
    cli("predict", "--model", result.folder, "--table", tmp_path / "new.csv", "--out", tmp_path / "there.csv")
    there = pd.read_csv(tmp_path / "there.csv", dtype={"case_id": str}, float_precision="round_trip")
    pd.testing.assert_frame_equal(here, there, check_exact=True)
    pipeline, card = load_model(result.folder)
    assert card["features"] == result.card["features"] and len(card["features"]) == 305
    with pytest.raises(OutputExistsError):
        predict_model(result.folder, [tmp_path / "new.csv"], tmp_path / "here.csv")


def _copy_model(source, target):
    target.mkdir()
    for path in source.iterdir():
        (target / path.name).write_bytes(path.read_bytes())
    return target


@pytest.mark.slow
def test_tampered_model_files_are_refused(trained, tmp_path):
    _, _, result = trained
    # 1. The file changed after training: its hash no longer matches the card.
    changed = _copy_model(result.folder, tmp_path / "changed")
    with open(changed / "model.skops", "ab") as handle:
        handle.write(b"\0")
    with pytest.raises(InputError, match="does not match the hash"):
        load_model(changed)
    # 2. A file rewritten to construct a dangerous type, its hash put in the card: skops' trusted-types check.
    evil = _copy_model(result.folder, tmp_path / "evil")
    with zipfile.ZipFile(result.folder / "model.skops") as source:
        members = {name: source.read(name) for name in source.namelist()}
    schema = json.loads(members["schema.json"])
    schema["__module__"], schema["__class__"] = "builtins", "eval"
    members["schema.json"] = json.dumps(schema).encode()
    with zipfile.ZipFile(evil / "model.skops", "w") as target:
        for name, content in members.items():
            target.writestr(name, content)
    from RadiomicsWorkshopLib.io.provenance import file_digest

    card = json.loads((evil / "card.json").read_text())
    card["model_file"]["sha256"] = file_digest(evil / "model.skops")
    (evil / "card.json").write_text(json.dumps(card))
    with pytest.raises(InputError, match="builtins.eval"):
        load_model(evil)
    # 3. Weights or config missing.
    (changed / "model.skops").unlink()
    with pytest.raises(InputError, match="no model.skops"):
        load_model(changed)


@pytest.mark.slow
def test_predict_refuses_tables_without_the_models_features(trained, tmp_path):
    _, table, result = trained
    table.drop(columns=["signal_2", "noise_7"]).to_csv(tmp_path / "short.csv", index=False)
    with pytest.raises(InputError, match=r"2 feature\(s\) the model needs are missing.*(signal_2|noise_7)"):
        predict_model(result.folder, [tmp_path / "short.csv"], tmp_path / "p.csv")
    done = cli("predict", "--model", result.folder, "--table", tmp_path / "short.csv", "--out", tmp_path / "p.csv",
               check=False)
    assert done.returncode == 2 and "signal_2" in done.stderr and "short.csv" in done.stderr


# -- folds shared with other models


@pytest.mark.slow
def test_fold_assignment_is_saved_and_reused(trained, tmp_path):
    folder, _, result = trained
    again = train_model([folder / "features.csv"], "outcome", tmp_path / "again",
                        ModelSettings(classifier="svm", bootstrap=50, seed=7).check(),
                        folds_file=result.folder / "folds.csv", report=False)
    first = pd.read_csv(result.folder / "folds.csv")
    second = pd.read_csv(again.folder / "folds.csv")
    pd.testing.assert_frame_equal(first, second)
    assert "given fold assignment" in again.card["cv_design"]["outer"]


# -- ComBat, imbalance


def test_combat_removes_a_site_shift_learnt_on_training_rows_only():
    import contextlib
    import io

    from neuroCombat import neuroCombat
    from RadiomicsWorkshopLib.modeling.steps import ComBatHarmonizer

    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(120, 20)), columns=[f"f{i}" for i in range(20)])
    X["site"] = np.where(np.arange(120) % 3 == 0, "scanner_A", "scanner_B")
    shifted = X["site"] == "scanner_A"
    X.loc[shifted, "f0":"f19"] = X.loc[shifted, "f0":"f19"] * 2.0 + 4.0
    train, test = X.iloc[:80], X.iloc[80:]
    harmonizer = ComBatHarmonizer().fit(train)
    # The same numbers as neuroCombat, the reference implementation, on the training rows.
    with contextlib.redirect_stdout(io.StringIO()):
        reference = neuroCombat(train.drop(columns="site").to_numpy().T, train[["site"]].reset_index(drop=True),
                                "site")["data"].T
    np.testing.assert_allclose(harmonizer.transform(train).to_numpy(), reference, atol=1e-4)
    out = harmonizer.transform(test)
    assert list(out.columns) == [f"f{i}" for i in range(20)]  # the site column is consumed
    before = test.groupby("site")["f3"].mean()
    after = out.groupby(test["site"].to_numpy())["f3"].mean()
    assert abs(before["scanner_A"] - before["scanner_B"]) > 3
    assert abs(after["scanner_A"] - after["scanner_B"]) < 0.8
    # Test rows are transformed with the training estimates: fitting on all rows would give other numbers.
    assert not np.allclose(out.to_numpy(), ComBatHarmonizer().fit(X).transform(test).to_numpy())
    with pytest.raises(InputError, match="scanner_C"):
        harmonizer.transform(test.assign(site="scanner_C"))


@pytest.mark.slow
@pytest.mark.parametrize("imbalance", ["smote", "borderline_smote", "class_weight"])
def test_imbalance_handling_runs_inside_the_folds(imbalance, tmp_path):
    table = signal_table(patients=100, features=40, seed=3)
    minority = table.index[table["outcome"] == "malignant"][20:]
    table = table.drop(index=minority).reset_index(drop=True)  # about 1:2.5
    data = prepare_data(table, "outcome")
    settings = ModelSettings(imbalance=imbalance, k=(5,), outer_folds=3, inner_folds=3, bootstrap=50).check()
    check_trainable(data, settings)
    cv = nested_cross_validation(data, settings, jobs=1)
    assert np.isfinite(cv.proba).all() and len(cv.proba) == len(table)  # no synthetic row is predicted
    assert point_metrics(data.y, cv.proba, data.classes)["auc"] > 0.8
    # Inside the folds: the sampler is a step of the imbalanced-learn Pipeline that every fold fits, before the
    # classifier; imbalanced-learn applies a sampler in fit only, never in predict (its documented contract),
    # so each fold resamples its own training rows and predicts its real test rows.
    from imblearn.pipeline import Pipeline as ImbalancedPipeline
    from RadiomicsWorkshopLib.modeling.pipeline import build_pipeline

    model, _ = build_pipeline(settings)
    names = [name for name, _ in model.steps]
    assert isinstance(model, ImbalancedPipeline) and names[-1] == "classifier"
    if imbalance == "class_weight":
        assert "resample" not in names and model.named_steps["classifier"].get_params()["class_weight"] == "balanced"
    else:
        assert names[-2] == "resample" and type(model.named_steps["resample"]).__name__.lower().replace("_", "") \
            .startswith(imbalance.replace("_", ""))
        fitted = model.fit(data.X, data.y)
        assert len(fitted.predict_proba(data.X.iloc[:7])) == 7


# -- metrics


def test_metrics_match_a_hand_computed_confusion_matrix():
    # 4 positives (3 found), 6 negatives (1 false alarm).
    y = np.array(["n"] * 6 + ["p"] * 4, dtype=object)
    p = np.array([0.1, 0.2, 0.3, 0.2, 0.4, 0.7, 0.9, 0.8, 0.6, 0.3])
    proba = np.column_stack([1 - p, p])
    m = point_metrics(y, proba, ["n", "p"])
    assert m["sensitivity"] == pytest.approx(3 / 4) and m["specificity"] == pytest.approx(5 / 6)
    assert m["ppv"] == pytest.approx(3 / 4) and m["npv"] == pytest.approx(5 / 6)
    assert m["f1"] == pytest.approx(0.75) and m["balanced_accuracy"] == pytest.approx((3 / 4 + 5 / 6) / 2)
    assert m["brier"] == pytest.approx(np.mean((p - (y == "p")) ** 2))
    # 24 (positive, negative) pairs; misordered: 0.6 < 0.7, 0.3 < 0.4, 0.3 < 0.7, and 0.3 = 0.3 counts half.
    assert m["auc"] == pytest.approx(20.5 / 24)
    # Bootstrap over patients: rows of one patient are resampled together, so 10 copies of each row
    # under one patient id give the same interval as the single rows, while 10 independent copies narrow it.
    groups = np.arange(10)
    single = evaluate(y, proba, ["n", "p"], groups, n_bootstrap=300).ci["auc"]
    repeated = evaluate(np.repeat(y, 10), np.repeat(proba, 10, axis=0), ["n", "p"], np.repeat(groups, 10),
                        n_bootstrap=300).ci["auc"]
    independent = evaluate(np.repeat(y, 10), np.repeat(proba, 10, axis=0), ["n", "p"], np.arange(100),
                           n_bootstrap=300).ci["auc"]
    assert repeated == pytest.approx(single, abs=0.02)
    assert independent[1] - independent[0] < 0.6 * (repeated[1] - repeated[0])


@pytest.mark.parametrize("k", [2, 3])
def test_metrics_equal_scikit_learns(k):
    """The bootstrap's NumPy metrics against scikit-learn's own, on random predictions with ties."""
    from sklearn.metrics import balanced_accuracy_score, confusion_matrix, f1_score, roc_auc_score

    rng = np.random.default_rng(k)
    classes = [f"c{i}" for i in range(k)]
    codes = rng.integers(0, k, 200)
    proba = rng.dirichlet(np.ones(k), 200).round(2)  # rounded: ties in the scores
    proba[np.arange(200), codes] += 0.2 * rng.random(200)
    proba /= proba.sum(axis=1, keepdims=True)
    m = point_metrics(np.array(classes, dtype=object)[codes], proba, classes)
    predicted = proba.argmax(axis=1)
    auc = roc_auc_score(codes == 1, proba[:, 1]) if k == 2 else roc_auc_score(codes, proba, multi_class="ovr")
    assert m["auc"] == pytest.approx(auc, abs=1e-12)
    assert m["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(codes, predicted), abs=1e-12)
    assert m["f1"] == pytest.approx(f1_score(codes, predicted, average="binary" if k == 2 else "macro"), abs=1e-12)
    matrix = confusion_matrix(codes, predicted)
    recall = np.diag(matrix) / matrix.sum(axis=1)
    assert m["sensitivity"] == pytest.approx(recall[1] if k == 2 else recall.mean(), abs=1e-12)
    if k == 2:  # the bootstrap's ROC band: scikit-learn's curve at the same false positive rates
        from RadiomicsWorkshopLib.modeling.metrics import FPR_GRID, _sensitivity_on_grid
        from sklearn.metrics import roc_curve

        fpr, tpr, _ = roc_curve(codes == 1, proba[:, 1], drop_intermediate=False)
        assert np.allclose(_sensitivity_on_grid(codes == 1, proba[:, 1]), np.interp(FPR_GRID, fpr, tpr), atol=1e-12)


# -- bad input


def test_bad_inputs_give_clear_messages(tmp_path):
    base = noise_table(30, 8, 0)
    with pytest.raises(InputError, match="single class"):
        check_trainable(prepare_data(base.assign(outcome=1), "outcome"), ModelSettings().check())
    with pytest.raises(InputError, match="outer folds"):
        check_trainable(prepare_data(base.head(8), "outcome"), ModelSettings(outer_folds=5).check())
    with pytest.raises(InputError, match=r"non-numeric column\(s\) scanner.*--exclude scanner"):
        prepare_data(base.assign(scanner="GE"), "outcome")
    assert "scanner" not in prepare_data(base.assign(scanner="GE"), "outcome", exclude=["scanner"]).features
    with pytest.raises(InputError, match=r"hold no value at all: noise_3"):
        prepare_data(base.assign(noise_3=np.nan), "outcome")
    repeated = pd.concat([base, base.assign(roi="2")])  # two ROIs per case, no patient column
    with pytest.raises(InputError, match="rows repeat case ids.*--group"):
        prepare_data(repeated, "outcome")
    with pytest.raises(InputError, match="no column 'patient' for --group"):
        prepare_data(repeated, "outcome", group="patient")
    with pytest.raises(InputError, match="no outcome column 'grade'"):
        prepare_data(base, "grade")
    with pytest.raises(InputError, match="infinite"):
        prepare_data(base.assign(noise_1=np.inf), "outcome")
    with pytest.raises(SettingsError, match="unknown classifier"):
        ModelSettings(classifier="xgboost").check()
    # Through the command line: exit status 2 and the file named.
    base.assign(outcome=1).to_csv(tmp_path / "one.csv", index=False)
    done = cli("train", "--table", tmp_path / "one.csv", "--outcome", "outcome", "--out", tmp_path / "m", check=False)
    assert done.returncode == 2 and "single class" in done.stderr and "one.csv" in done.stderr
    assert not (tmp_path / "m" / "card.json").exists()


@pytest.mark.slow
def test_train_cli_with_clinical_table_split_column_and_jsonl(tmp_path):
    table = signal_table(patients=120, features=50, seed=4)
    clinical = table[["case_id", "outcome"]].assign(split=np.where(np.arange(120) < 90, "train", "test"),
                                                   age=np.random.default_rng(0).integers(30, 80, 120))
    table.drop(columns=["outcome"]).to_csv(tmp_path / "features.csv", index=False)
    clinical.to_csv(tmp_path / "clinical.csv", index=False)
    done = cli("train", "--table", tmp_path / "features.csv", "--clinical", tmp_path / "clinical.csv",
               "--outcome", "outcome", "--split-column", "split", "--bootstrap", "100",
               "--out", tmp_path / "model", "--progress", "jsonl")
    events = [json.loads(line) for line in done.stdout.splitlines()]
    assert [e["done"] for e in events if e["event"] == "progress"] == list(range(7))
    assert events[-1]["event"] == "result"
    card = json.loads((tmp_path / "model" / "card.json").read_text())
    assert card["training_data"]["rows"] == 90 and card["test"]["n_rows"] == 30
    assert "age" in card["features"] and "split" not in card["features"]
    assert card["test"]["metrics"]["auc"] >= 0.8
    test = pd.read_csv(tmp_path / "model" / "test_predictions.csv", dtype={"case_id": str})
    assert set(test["case_id"]) == set(clinical["case_id"][90:])
    # An existing model folder is not replaced without --overwrite.
    again = cli("train", "--table", tmp_path / "features.csv", "--clinical", tmp_path / "clinical.csv",
                "--outcome", "outcome", "--out", tmp_path / "model", check=False)
    assert again.returncode == 2 and "--overwrite" in again.stderr
    # The report is rebuilt from the card.
    (tmp_path / "model" / "report.html").unlink()
    cli("report", "--model", tmp_path / "model")
    assert "Test set" in (tmp_path / "model" / "report.html").read_text()


@pytest.mark.slow
@pytest.mark.parametrize("classifier,penalty,selection", [
    ("logistic", "l1", "lasso"), ("logistic", "elasticnet", "mannwhitney"), ("gradient_boosting", "l2", "random_forest"),
    ("svm", "l2", "anova")])
def test_every_classifier_and_selection_learns_the_planted_signal(classifier, penalty, selection, tmp_path):
    """Each classifier and selection method in the pipeline, and an external test table."""
    signal_table(patients=80, features=30, seed=5).to_csv(tmp_path / "train.csv", index=False)
    signal_table(patients=60, features=30, seed=6).assign(
        case_id=lambda t: "ext-" + t["case_id"]).to_csv(tmp_path / "external.csv", index=False)
    settings = ModelSettings(classifier=classifier, penalty=penalty, selection=selection, k=(5,), outer_folds=3,
                             inner_folds=3, bootstrap=50).check()
    result = train_model([tmp_path / "train.csv"], "outcome", tmp_path / "model", settings,
                         test_tables=[tmp_path / "external.csv"], report=False)
    assert result.card["cross_validation"]["metrics"]["auc"] >= 0.75, result.card["cross_validation"]["metrics"]
    assert result.card["test"]["metrics"]["auc"] >= 0.75 and result.card["test"]["n_patients"] == 60
    assert len(result.card["final_model"]["selected_features"]) == 5
    assert sum(name.startswith("signal_") for name in result.card["final_model"]["selected_features"]) >= 3


def test_one_card_reader_for_both_kinds_of_classifier(tmp_path):
    """modeling/store.read_card reads the cards of `train` and `train-cnn` folders, and refuses the other
    kind with the command that applies it."""
    from RadiomicsWorkshopLib.modeling.store import CARD_FORMATS, read_card

    (tmp_path / "card.json").write_text(json.dumps({"format": CARD_FORMATS["cnn"], "kind": "cnn"}))
    assert read_card(tmp_path, kinds=tuple(CARD_FORMATS))["kind"] == "cnn"
    with pytest.raises(InputError) as refused:
        read_card(tmp_path)
    assert "predict-cnn" in refused.value.hint and "card.json" in str(refused.value.file)
    (tmp_path / "card.json").write_text(json.dumps({"format": "something else"}))
    with pytest.raises(InputError, match="not a model card of this tool"):
        read_card(tmp_path, kinds=tuple(CARD_FORMATS))


def test_dominant_fraction_is_the_share_of_the_most_frequent_value():
    """The near-constant filter's vectorised count against its definition, column by column with np.unique
    (ties, NaN, an all-NaN column, negative zero)."""
    from RadiomicsWorkshopLib.modeling.steps import dominant_fraction

    rng = np.random.default_rng(0)
    X = rng.integers(0, 4, size=(50, 30)).astype(float)
    X[rng.random(X.shape) < 0.2] = np.nan
    X[:, 3] = np.nan
    X[:, 4] = 0.0
    X[::2, 4] = -0.0
    X[:, 5] = rng.normal(size=50)

    def by_definition(column):
        column = column[~np.isnan(column)]
        return np.unique(column, return_counts=True)[1].max() / column.size if column.size else 1.0

    np.testing.assert_array_equal(dominant_fraction(X), [by_definition(X[:, j]) for j in range(X.shape[1])])
    assert dominant_fraction(X)[4] == 1.0 and dominant_fraction(X)[5] == pytest.approx(1 / 50)
