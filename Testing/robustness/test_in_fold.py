"""``train --robust-icc``: the robustness filter inside the folds keeps the features whose ICC(1,1) lower
bound passes on the *training* patients' perturbations only; here the held-out patients' perturbations
would change what is kept, and they do not. Also: the vectorised ICC(1,1) the filter uses equals pingouin's."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from RadiomicsWorkshopLib.modeling.steps import RobustnessFilter
from RadiomicsWorkshopLib.robustness.agreement import agreement_table, icc1_bounds

PATIENTS, REPEATS = 24, 5


def _cohort(seed: int = 0):
    """A modelling table (one row per patient) and its robustness table. ``Stable`` is robust for every
    patient; ``Split`` is robust on patients 0-11 and pure noise on 12-23; ``Noise`` never is."""
    rng = np.random.default_rng(seed)
    truth = rng.normal(0.0, 1.0, (PATIENTS, 3))
    rows = []
    for p in range(PATIENTS):
        for r in range(REPEATS):
            split = truth[p, 1] + rng.normal(0.0, 0.05 if p < 12 else 3.0)
            rows.append({"case_id": f"P{p:02d}", "roi": "1", "perturbation": f"p{r:03d}",
                         "original_firstorder_Stable": truth[p, 0] + rng.normal(0.0, 0.05),
                         "original_firstorder_Split": split, "original_firstorder_Noise": rng.normal()})
    repeated = pd.DataFrame(rows)
    table = pd.DataFrame({"case_id": [f"P{p:02d}" for p in range(PATIENTS)], "roi": "1",
                          "original_firstorder_Stable": truth[:, 0], "original_firstorder_Split": truth[:, 1],
                          "original_firstorder_Noise": rng.normal(size=PATIENTS),
                          "outcome": np.where(truth[:, 0] + rng.normal(0, 0.5, PATIENTS) > 0, "yes", "no")})
    return table, repeated


def test_vectorised_icc1_equals_pingouins():
    _, repeated = _cohort()
    features = ["original_firstorder_Stable", "original_firstorder_Split", "original_firstorder_Noise"]
    theirs = agreement_table(repeated, features, rater="perturbation").set_index("feature")
    cube = np.stack([repeated.pivot_table(index="case_id", columns="perturbation", values=f).to_numpy()
                     for f in features], axis=1)
    icc, low, high = icc1_bounds(cube.reshape(PATIENTS, len(features), REPEATS).transpose(0, 2, 1))
    np.testing.assert_allclose(icc, theirs.loc[features, "icc1"], atol=1e-9)
    np.testing.assert_allclose(low, theirs.loc[features, "icc1_low"], atol=0.005)  # pingouin rounds to 2 places
    np.testing.assert_allclose(high, theirs.loc[features, "icc1_high"], atol=0.005)


def test_the_filter_uses_the_training_patients_perturbations_only():
    table, repeated = _cohort()
    repeated = repeated.assign(subject=repeated["case_id"] + "|" + repeated["roi"])
    subjects = (table["case_id"] + "|" + table["roi"]).to_numpy()
    X = table[["original_firstorder_Stable", "original_firstorder_Split", "original_firstorder_Noise"]]
    on_all = RobustnessFilter(repeated, subjects, 0.75).fit(X)
    training = X.iloc[:12]  # the patients on whom Split is robust
    on_training = RobustnessFilter(repeated, subjects, 0.75).fit(training)
    assert list(on_all.get_feature_names_out()) == ["original_firstorder_Stable"]
    assert list(on_training.get_feature_names_out()) == ["original_firstorder_Stable", "original_firstorder_Split"]
    assert on_training.subjects_ == sorted(subjects[:12])  # nothing of the held-out patients
    assert on_training.transform(X.iloc[12:]).shape == (12, 2)


@pytest.mark.slow
def test_train_with_the_robustness_filter_inside_the_folds(tmp_path):
    from RadiomicsWorkshopLib.modeling.settings import ModelSettings
    from RadiomicsWorkshopLib.modeling.store import load_model
    from RadiomicsWorkshopLib.modeling.workflow import train_model

    table, repeated = _cohort()
    table.to_csv(tmp_path / "table.csv", index=False)
    repeated.to_csv(tmp_path / "robust.csv", index=False)
    settings = ModelSettings(selection="none", correlation_threshold=None, outer_folds=3, inner_folds=2, bootstrap=50,
                             robust_icc=0.75, robustness_table=str(tmp_path / "robust.csv"))
    train_model([tmp_path / "table.csv"], "outcome", tmp_path / "model", settings)
    pipeline, card = load_model(tmp_path / "model")
    assert card["settings"]["robust_icc"] == 0.75
    assert pipeline.named_steps["robust"].repeated is None  # the measurements are not saved
    assert card["selection_frequency"] == {"original_firstorder_Stable": 3}  # in every outer fold, nothing else
    with pytest.raises(Exception, match="go together"):
        ModelSettings(robust_icc=0.75).check()
