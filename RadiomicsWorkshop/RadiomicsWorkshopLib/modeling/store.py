"""A trained classifier on disk: a folder that can be shared and loaded safely.

    model.skops        the fitted Pipeline, saved with skops (no pickle: loading runs no code)
    card.json          features expected, classes, training data hash, CV design, metrics with CIs,
                       hyperparameters, selected features, library versions, model file hash
    predictions.csv    out-of-fold predictions of the nested cross-validation
    folds.csv          the outer fold of every patient (to compare other models on the same folds)
    test_predictions.csv, report.html

Loading checks the model file's SHA-256 against the card (a changed file is
refused) and asks skops which types the file would construct: anything outside
the libraries a pipeline of ours is made of (scikit-learn, imbalanced-learn,
NumPy, SciPy, our own steps) is refused before the file is loaded.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..io.errors import InputError, OutputExistsError
from ..io.provenance import file_digest
from ..io.tables import read_json, write_json

MODEL_FILE = "model.skops"
CARD_FILE = "card.json"
#: The card formats of the two kinds of classifier folder, and the commands that write and apply each.
CARD_FORMATS = {"radiomics": "radiomics-workshop classifier 1", "cnn": "radiomics-workshop cnn classifier 1"}
WRITTEN_BY = {"radiomics": "train", "cnn": "train-cnn"}
PREDICTED_BY = {"radiomics": "predict", "cnn": "predict-cnn"}
CARD_FORMAT = CARD_FORMATS["radiomics"]
# Module prefixes of the types a saved pipeline may construct.
TRUSTED_PREFIXES = ("sklearn.", "imblearn.", "numpy.", "scipy.", "RadiomicsWorkshopLib.modeling.steps.",
                    "RadiomicsWorkshopLib.deep.reduction.")


# Every file training writes into a model folder: what --overwrite replaces (nothing else is touched).
MODEL_FOLDER_FILES = (MODEL_FILE, CARD_FILE, "report.html", "predictions.csv", "folds.csv", "metrics.csv", "roc.csv",
                      "calibration.csv", "test_predictions.csv", "test_roc.csv", "test_calibration.csv")


def prepare_folder(folder: str | Path, overwrite: bool, files: tuple[str, ...] = MODEL_FOLDER_FILES,
                   resumable: bool = False) -> Path:
    """An empty (or new) folder for a model; with ``overwrite`` an earlier model's ``files`` are removed first,
    so that none of them (a test set's predictions, say) is left beside the new model. ``resumable``: the
    folder holds an interrupted training to go on with, and is used as it is."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise OutputExistsError("the model output is a file, not a folder", file=folder, hint="choose a folder")
    if folder.exists() and any(folder.iterdir()) and not resumable:
        if not overwrite:
            raise OutputExistsError("model folder exists and is not empty", file=folder,
                                    hint="pass --overwrite or choose another --out")
        for name in files:
            (folder / name).unlink(missing_ok=True)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def save_model(folder: Path, pipeline: Any, card: dict) -> dict:
    """Write the pipeline (skops) and the card, which records the model file's hash."""
    import os

    import skops.io as sio

    from ..io.tables import atomic_target

    tmp = atomic_target(folder / MODEL_FILE)
    try:
        sio.dump(pipeline, tmp)
        os.replace(tmp, folder / MODEL_FILE)
    finally:
        Path(tmp).unlink(missing_ok=True)
    card = dict(card, format=CARD_FORMAT,
                model_file={"name": MODEL_FILE, "sha256": file_digest(folder / MODEL_FILE), "serialisation": "skops"})
    write_json(card, folder / CARD_FILE)
    return card


def read_card(folder: str | Path, kinds: tuple[str, ...] = ("radiomics",)) -> dict:
    """A classifier folder's card.json, refused unless it is a card of one of ``kinds`` (``CARD_FORMATS``)."""
    folder = Path(folder)
    path = folder / CARD_FILE
    hint = "give the folder written by " + " or ".join(f"`radiomics-workshop {WRITTEN_BY[k]} --out`" for k in kinds)
    if not folder.is_dir():
        raise InputError("model folder not found", file=folder, hint=hint)
    if not path.is_file():
        raise InputError("the model folder has no card.json", file=folder, hint=hint)
    try:
        card = read_json(path)
    except ValueError as exc:
        raise InputError(f"card.json cannot be read ({exc})", file=path) from None
    kind = next((k for k, f in CARD_FORMATS.items() if card.get("format") == f), None)
    if kind is None:
        raise InputError(f"not a model card of this tool (format {card.get('format')!r})", file=path, hint=hint)
    if kind not in kinds:
        raise InputError(f"the card of a {kind} classifier (written by `{WRITTEN_BY[kind]}`), not of a "
                         f"{' or '.join(kinds)} one", file=path,
                         hint=f"use `radiomics-workshop {PREDICTED_BY[kind]}` for it, or {hint}")
    return card


def load_model(folder: str | Path) -> tuple[Any, dict]:
    """The fitted pipeline and its card; refuses a file that changed or would construct untrusted types."""
    import skops.io as sio

    folder = Path(folder)
    card = read_card(folder)
    path = folder / MODEL_FILE
    if not path.is_file():
        raise InputError("the model folder has no model.skops", file=folder, hint="train the model again")
    if file_digest(path) != card["model_file"]["sha256"]:
        raise InputError("model.skops does not match the hash recorded in card.json: the file was changed after "
                         "training", file=path, hint="use the folder as training wrote it, or train again")
    try:
        types = sio.get_untrusted_types(file=str(path))
    except Exception as exc:  # a corrupt zip or schema
        raise InputError(f"model.skops cannot be read ({exc.__class__.__name__}: {exc})", file=path) from None
    untrusted = [t for t in types if not t.startswith(TRUSTED_PREFIXES)]
    if untrusted:
        raise InputError(f"model.skops would construct types outside the trusted libraries: {', '.join(untrusted)}",
                         file=path, hint="do not load models from an unknown source")
    pipeline = sio.load(str(path), trusted=types)
    return pipeline, card
