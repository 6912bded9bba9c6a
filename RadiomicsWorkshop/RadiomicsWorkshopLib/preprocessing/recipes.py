"""Preprocessing recipes: an ordered list of steps, as data (YAML or JSON).

```yaml
name: brain_MR
steps:
  - n4: {shrink_factor: 8}
  - denoise: {method: curvature_anisotropic, iterations: 5}
  - resample: {spacing: [1, 1, 1]}
  - normalize: {method: zscore, region: body}
```

Shipped recipes live in ``Resources/Recipes`` (installed into the package as
``RadiomicsWorkshopLib/recipes_data``). The recipe, with every option and what
each step did, is recorded in the provenance of whatever is made from its output.
"""

from __future__ import annotations

import copy
import hashlib
import inspect
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import SimpleITK as sitk

from ..io import tables
from ..io.errors import SettingsError, WorkshopError
from ..io.locations import resource_dirs
from .filters import STEPS, StepResult


def sidecar_path(image_file: str | Path) -> Path:
    """Where the record of a preprocessed image's recipe lies: ``<name>.preprocessing.json`` beside it."""
    image_file = Path(image_file)
    return image_file.with_name(image_file.name.split(".")[0] + ".preprocessing.json")


def read_sidecar(image_file: str | Path) -> dict | None:
    """The preprocessing record of an image (None for an image the core did not preprocess)."""
    path = sidecar_path(image_file)
    return tables.read_json(path) if path.is_file() else None


def recipe_dirs() -> list[Path]:
    return resource_dirs("Recipes")


def list_recipes() -> list[str]:
    return sorted({p.stem for folder in recipe_dirs() if folder.is_dir() for p in folder.glob("*.yaml")})


@dataclass
class Recipe:
    name: str
    steps: list[tuple[str, dict[str, Any]]]
    source: str | None = None
    learned: dict[str, Any] = field(default_factory=dict)  # e.g. histogram landmarks fitted on a cohort

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "source": self.source, "steps": [{n: o} for n, o in self.steps],
                "learned": self.learned}

    def digest(self) -> str:
        payload = {"steps": [{n: o} for n, o in self.steps], "learned": self.learned}
        return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]

    def needs_cohort_fit(self) -> bool:
        return any(n == "normalize" and o.get("method") == "histogram" and "landmarks" not in o
                   for n, o in self.steps) and "histogram_landmarks" not in self.learned

    def resamples(self) -> bool:
        return any(n == "resample" for n, _ in self.steps)

    def apply(self, image: sitk.Image, mask: sitk.Image | None = None, *, keep: tuple[str, ...] = (),
              until: int | None = None) -> tuple[StepResult, list[dict[str, Any]]]:
        """Run the steps in order; returns the last result and what each step did."""
        result = StepResult(image, mask)
        log = []
        for index, (name, options) in enumerate(self.steps[:until]):
            options = dict(options)
            if name == "normalize" and options.get("method") == "histogram" and "landmarks" not in options:
                options["landmarks"] = self.learned.get("histogram_landmarks")
            if name == "n4" and "bias_field" in keep:
                options["return_bias_field"] = True
            step = STEPS[name](result.image, result.mask, **options)
            step.extra = {**result.extra, **step.extra}
            log.append({"step": name, **step.info})
            result = step
        return result, log


def _parse(data: Any, name: str, source: str | None) -> Recipe:
    if not isinstance(data, dict) or not isinstance(data.get("steps"), list):
        raise SettingsError("a recipe is a mapping with a 'steps' list", file=source,
                            hint="see RadiomicsWorkshop/Resources/Recipes/brain_MR.yaml")
    steps = []
    for position, entry in enumerate(data["steps"], start=1):
        if isinstance(entry, str):
            entry = {entry: {}}
        if not isinstance(entry, dict) or len(entry) != 1:
            raise SettingsError(f"recipe step {position} must be one 'name: {{options}}' entry", file=source)
        (step, options), = entry.items()
        if step not in STEPS:
            raise SettingsError(f"unknown recipe step '{step}' (step {position})", file=source,
                                hint=f"steps: {', '.join(STEPS)}")
        options = dict(options or {})
        allowed = set(inspect.signature(STEPS[step]).parameters) - {"image", "mask", "return_bias_field"}
        unknown = set(options) - allowed
        if unknown:
            raise SettingsError(f"unknown option(s) {', '.join(sorted(unknown))} for step '{step}'", file=source,
                                hint=f"options of {step}: {', '.join(sorted(allowed))}")
        steps.append((step, options))
    return Recipe(name=str(data.get("name", name)), steps=steps, source=source,
                  learned=copy.deepcopy(data.get("learned", {})))


def load_recipe(recipe: str | Path | dict) -> Recipe:
    """A recipe from a dict, a YAML/JSON file, or the name of a shipped one."""
    if isinstance(recipe, dict):
        return _parse(recipe, "custom", None)
    path = Path(recipe)
    if not path.is_file():
        for folder in recipe_dirs():
            if (folder / f"{recipe}.yaml").is_file():
                path = folder / f"{recipe}.yaml"
                break
        else:
            raise SettingsError(f"recipe '{recipe}' is neither a file nor a shipped recipe",
                                hint=f"shipped recipes: {', '.join(list_recipes())}")
    import yaml

    try:
        data = yaml.safe_load(path.read_text())  # YAML is a superset of JSON
    except yaml.YAMLError as exc:
        raise SettingsError(f"recipe is not valid YAML/JSON ({exc})", file=path) from None
    return _parse(data, path.stem, str(path))


def apply_recipe_to_case(recipe: Recipe, image: sitk.Image, mask: sitk.Image | None, *, case_id: str,
                         image_file: str, keep: tuple[str, ...] = ()) -> tuple[StepResult, list[dict[str, Any]]]:
    """``recipe.apply`` with errors naming the case and the file."""
    try:
        return recipe.apply(image, mask, keep=keep)
    except WorkshopError as exc:
        raise exc.with_context(case_id=case_id, file=image_file)
