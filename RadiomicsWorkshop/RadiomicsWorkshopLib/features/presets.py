"""Extraction settings: shipped presets and users' PyRadiomics parameter files.

A preset is a PyRadiomics parameter file (YAML) in ``Resources/Presets`` of the
Slicer module (installed into the package as ``RadiomicsWorkshopLib/presets``).
A file may carry one section of our own, ``workshop:``, which is taken out
before the rest goes to PyRadiomics, so any plain PyRadiomics parameter file
works as it is. Its options:

- ``slicewise: true`` -- one row per slice instead of one per ROI;
- ``minimum_roi_voxels: N`` -- smaller ROIs are refused (default 2);
- ``aggregations:`` -- extra texture aggregations (IBSI's 3D merged, 2.5D, 2D
  ...) computed in the same run, each a name mapping to ``setting`` overrides,
  a ``featureClass`` section and ``per_slice: true`` for features computed
  slice by slice and averaged over slices. Their columns are named
  ``<imageType>-<name>_<class>_<feature>``, e.g. ``original-2D-averaged_glcm_Contrast``;
- ``ibsi_families: true`` (or a list) -- the IBSI-1 features PyRadiomics lacks,
  in the same table (``RadiomicsWorkshopLib.features.ibsi.families``);
- ``ivh:`` -- the intensity-volume histogram's own discretisation, as the IBSI
  gives it one: ``none`` (CT's discrete HU as they are), ``{bin_width: 2.5}``,
  ``{bin_count: 1000}``; default: the texture's grey levels
  (``RadiomicsWorkshopLib.features.ibsi.intensity.ivh_option``);
- ``extends: NAME`` -- this file is the preset NAME with its own sections laid
  over it (e.g. the IBSI CT configurations: ``extends: IBSI`` and their settings);
- ``convention: ibsi`` -- the IBSI's definitions instead of PyRadiomics' (default
  ``pyradiomics``): fixed-size bins counted from the re-segmentation range's
  lower bound, and the texture classes (GLCM, GLRLM, GLSZM, GLDM, NGTDM) of the
  main extraction and of every aggregation computed by us on that one
  discretised ROI (``RadiomicsWorkshopLib.features.ibsi.texture``), under
  PyRadiomics' column names; PyRadiomics computes shape, we first order too;
- ``engine: auto | ours | pyradiomics`` -- who computes PyRadiomics' classes (``extract --engine`` too):
  ``auto`` (default) our engine wherever it computes everything the file asks for
  (``RadiomicsWorkshopLib.features.engine``), PyRadiomics otherwise;
- ``outliers: 3`` -- with ``convention: ibsi``, the IBSI's outlier filtering: the
  intensity mask also drops voxels further than 3 standard deviations from the
  ROI's mean, together with ``resegmentRange`` if one is set (the intersection,
  as the IBSI combines them; PyRadiomics' ``resegmentMode`` gives one or the other).
"""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..io.errors import SettingsError
from ..io.locations import resource_dirs

WORKSHOP_KEYS = {"slicewise": bool, "minimum_roi_voxels": int, "aggregations": dict, "ibsi_families": (bool, list),
                 "ivh": (str, dict), "convention": str, "outliers": (int, float), "engine": str, "extends": str}
CONVENTIONS = ("pyradiomics", "ibsi")
AGGREGATION_KEYS = {"setting", "featureClass", "per_slice"}


def preset_dirs() -> list[Path]:
    """Where presets live: the source tree / Slicer install, then the installed package."""
    return resource_dirs("Presets")


def list_presets() -> list[str]:
    names: set[str] = set()
    for folder in preset_dirs():
        if folder.is_dir():
            names.update(p.stem for p in folder.glob("*.yaml"))
    return sorted(names)


def preset_path(name: str) -> Path:
    for folder in preset_dirs():
        candidate = folder / f"{name}.yaml"
        if candidate.is_file():
            return candidate
    raise SettingsError(f"unknown preset '{name}'", hint=f"choose one of: {', '.join(list_presets())}, "
                        "or pass your own PyRadiomics parameter file with --params")


@dataclass
class ExtractionParams:
    """PyRadiomics parameters plus our own options, and where they came from."""

    name: str
    pyradiomics: dict[str, Any]
    slicewise: bool = False
    minimum_roi_voxels: int = 2
    source: str | None = None
    #: name -> {"pyradiomics": PyRadiomics parameters, "per_slice": bool}
    aggregations: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: the IBSI-1 families PyRadiomics lacks, computed beside it (``ibsi_families.FAMILIES``)
    ibsi_families: tuple[str, ...] = ()
    #: the IVH's own discretisation (``ibsi.intensity.ivh_option``); None: the texture's grey levels
    ivh: dict[str, Any] | None = None
    #: "pyradiomics" or "ibsi": whose bins and texture definitions (see the module doc)
    convention: str = "pyradiomics"
    #: the IBSI's outlier filtering: mean +- this many SD, with the range (``convention: ibsi`` only)
    outliers: float | None = None
    #: who computes PyRadiomics' classes: "ours" or "pyradiomics" (``engine.choice.engine_for``)
    engine: str = "pyradiomics"
    #: a preprocessing recipe applied on the fly before extraction (``extract --preprocess``)
    recipe: Any = None

    @property
    def settings(self) -> dict[str, Any]:
        return self.pyradiomics.get("setting") or {}

    def to_dict(self) -> dict[str, Any]:
        out = {"name": self.name, "source": self.source, "slicewise": self.slicewise,
               "minimum_roi_voxels": self.minimum_roi_voxels, "pyradiomics": self.pyradiomics,
               "aggregations": self.aggregations, "ibsi_families": list(self.ibsi_families),
               "preprocess": self.recipe.to_dict() if self.recipe is not None else None}
        # only when set, so that the digests of tables without them stay as they were
        if self.ivh is not None:
            out["ivh"] = self.ivh
        if self.convention != "pyradiomics":
            out["convention"] = self.convention
        if self.outliers is not None:
            out["outliers"] = self.outliers
        out["engine"] = self.engine
        return out

    def digest(self) -> str:
        """Stable hash of everything that changes the numbers."""
        # the engine is not in it: both compute the same numbers (to 1e-6, Testing/features/engine/)
        payload = {k: v for k, v in self.to_dict().items() if k not in ("name", "source", "engine")}
        return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _read_yaml(path: Path) -> dict:
    import yaml

    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise SettingsError("parameter file not found", file=path, hint="check the path given to --params") from None
    except yaml.YAMLError as exc:
        raise SettingsError(f"parameter file is not valid YAML ({exc})", file=path,
                            hint="fix the YAML syntax (indentation, colons)") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise SettingsError("parameter file must be a mapping with imageType/featureClass/setting sections",
                            file=path, hint="see PyRadiomics' parameter file documentation")
    return data


def _merged(base: dict, over: dict) -> dict:
    """``over`` laid over ``base``: mappings merged key by key, anything else replaced."""
    out = copy.deepcopy(base)
    for key, value in over.items():
        out[key] = _merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) \
            else copy.deepcopy(value)
    return out


def _extended(data: dict, source: str | None, seen: tuple[str, ...] = ()) -> dict:
    """A file with ``workshop: extends: NAME`` is the preset NAME with the file's own sections laid over it (its
    ``setting`` keys replace the preset's, its feature classes join them): a variant without a copy."""
    base_name = (data.get("workshop") or {}).get("extends")
    if base_name is None:
        return data
    if not isinstance(base_name, str):
        raise SettingsError("'workshop: extends' must name a preset", file=source, hint="e.g. extends: IBSI")
    if base_name in seen:
        raise SettingsError(f"presets extend each other in a loop: {' -> '.join(seen + (base_name,))}", file=source)
    base_file = preset_path(base_name)
    base = _extended(_read_yaml(base_file), str(base_file), seen + (base_name,))
    merged = _merged(base, data)
    merged["workshop"] = {k: v for k, v in merged["workshop"].items() if k != "extends"}
    return merged


def params_from_dict(data: dict, *, name: str = "custom", source: str | None = None) -> ExtractionParams:
    """Split our ``workshop`` section off and validate the rest with PyRadiomics' own schema."""
    data = _extended(copy.deepcopy(data), source, (name,))
    ours = data.pop("workshop", None) or {}
    for key, value in ours.items():
        if key not in WORKSHOP_KEYS:
            raise SettingsError(f"unknown option 'workshop: {key}'", file=source,
                                hint=f"known options: {', '.join(WORKSHOP_KEYS)}")
        if not isinstance(value, WORKSHOP_KEYS[key]):
            kinds = WORKSHOP_KEYS[key] if isinstance(WORKSHOP_KEYS[key], tuple) else (WORKSHOP_KEYS[key],)
            raise SettingsError(f"'workshop: {key}' must be {' or '.join(k.__name__ for k in kinds)}", file=source)
    validate_pyradiomics(data, source=source)
    aggregations = {}
    for agg_name, spec in (ours.get("aggregations") or {}).items():
        aggregations[str(agg_name)] = _aggregation(str(agg_name), spec or {}, data, source)
    if aggregations and ours.get("slicewise"):
        raise SettingsError("'workshop: aggregations' and 'slicewise' do not go together", file=source,
                            hint="slice-wise rows are already 2D; drop one of the two")
    from .ibsi.families import families_from_option

    families = families_from_option(ours.get("ibsi_families"), source=source)
    if families and ours.get("slicewise"):
        raise SettingsError("'workshop: ibsi_families' and 'slicewise' do not go together", file=source,
                            hint="the IBSI families are computed per ROI; use aggregations for 2D texture")
    from .ibsi.intensity import ivh_option

    convention = ours.get("convention", "pyradiomics")
    if convention not in CONVENTIONS:
        raise SettingsError(f"'workshop: convention: {convention}' is unknown", file=source,
                            hint=f"use one of: {', '.join(CONVENTIONS)}")
    if convention == "ibsi":
        from .ibsi.texture import check_settings

        filtered = [t for t in (data.get("imageType") or {"Original": {}}) if t != "Original"]
        if filtered:
            raise SettingsError(f"'workshop: convention: ibsi' computes the original image only, not "
                                f"{', '.join(filtered)}", file=source,
                                hint="drop those image types, or use the pyradiomics convention for filtered images")

        check_settings(data.get("setting") or {}, source)
        for agg_name, aggregation in aggregations.items():
            check_settings(aggregation["pyradiomics"]["setting"], source, f"aggregations: {agg_name}: setting")
    outliers = _outliers(ours.get("outliers"), convention, data.get("setting") or {}, source)
    params = ExtractionParams(name=name, pyradiomics=data, slicewise=bool(ours.get("slicewise", False)),
                            minimum_roi_voxels=int(ours.get("minimum_roi_voxels", 2)), source=source,
                            aggregations=aggregations, ibsi_families=families,
                            ivh=ivh_option(ours.get("ivh"), source=source), convention=convention,
                            outliers=outliers)
    return with_engine(params, ours.get("engine", "auto"))


def with_engine(params: ExtractionParams, requested: str) -> ExtractionParams:
    """``params`` with the engine that computes them (``engine.choice``; "auto": ours where it can)."""
    from .engine.choice import engine_for

    extractions = [params.pyradiomics] + [a["pyradiomics"] for a in params.aggregations.values()]
    if params.convention == "ibsi":  # PyRadiomics' part is shape only (extraction.pyradiomics_params)
        extractions = [{**params.pyradiomics, "featureClass": {k: v for k, v in
                                                              (params.pyradiomics.get("featureClass") or {}).items()
                                                              if k.startswith("shape")}}]
    params.engine = engine_for(requested, extractions, params.source)
    return params


def _outliers(value: Any, convention: str, setting: dict, source: str | None) -> float | None:
    """``workshop: outliers``: a positive number of standard deviations, only with the IBSI convention."""
    if value is None:
        return None
    if isinstance(value, bool) or value <= 0:
        raise SettingsError(f"'workshop: outliers: {value}' must be a positive number of standard deviations",
                            file=source, hint="the IBSI's outlier filtering uses 3")
    if convention != "ibsi":
        raise SettingsError("'workshop: outliers' needs 'workshop: convention: ibsi'", file=source,
                            hint="PyRadiomics' classes take one re-segmentation; for outlier filtering alone use "
                                 "PyRadiomics' resegmentMode: sigma with resegmentRange: [-3, 3]")
    if setting.get("resegmentMode", "absolute") != "absolute":
        raise SettingsError(f"'workshop: outliers' with 'setting: resegmentMode: {setting['resegmentMode']}'",
                            file=source, hint="outliers combine with an absolute resegmentRange (HU); drop "
                                              "resegmentMode or the outliers option")
    return float(value)


def _aggregation(name: str, spec: dict, main: dict, source: str | None) -> dict[str, Any]:
    """PyRadiomics parameters of one extra aggregation: the main ones with its overrides."""
    unknown = set(spec) - AGGREGATION_KEYS
    if unknown or "_" in name or not name:
        raise SettingsError(f"aggregation '{name}': unknown key(s) {', '.join(sorted(unknown))}" if unknown
                            else f"aggregation name '{name}' must be non-empty and without '_'", file=source,
                            hint=f"keys: {', '.join(sorted(AGGREGATION_KEYS))}")
    params = {"imageType": copy.deepcopy(main.get("imageType") or {"Original": {}}),
              "featureClass": copy.deepcopy(spec.get("featureClass") or main.get("featureClass") or {}),
              "setting": {**(main.get("setting") or {}), **(spec.get("setting") or {})}}
    params["featureClass"] = {k: v for k, v in params["featureClass"].items() if not k.startswith("shape")}
    validate_pyradiomics(params, source=source)
    return {"pyradiomics": params, "per_slice": bool(spec.get("per_slice", False))}


def validate_pyradiomics(data: dict, *, source: str | None = None) -> None:
    """PyRadiomics' own schema check; without PyRadiomics, the sections' shapes and what our engine knows."""
    import logging

    try:
        import radiomics
        from radiomics import featureextractor
    except ImportError:
        return _validate_without_pyradiomics(data, source)

    radiomics.setVerbosity(logging.ERROR)
    data = _without_ours(data, source)
    try:
        featureextractor.RadiomicsFeatureExtractor(copy.deepcopy(data))
    except Exception as exc:  # pykwalify.SchemaError and PyRadiomics' own ValueErrors
        text = " ".join(str(exc).split())
        raise SettingsError(f"invalid PyRadiomics parameters: {text}", file=source,
                            hint="see https://pyradiomics.readthedocs.io/en/latest/customization.html") from None


def _without_ours(data: dict, source: str | None) -> dict:
    """The parameters without what PyRadiomics does not know (the IBSI-2 image types, checked here, and
    the classes of ours alone), for PyRadiomics' schema to check the rest."""
    from .engine.classes import OURS_ONLY
    from .ibsi2.image_types import IMAGE_TYPES as IBSI2_TYPES, filters

    image_types = data.get("imageType")
    if isinstance(image_types, dict):
        for name, custom in image_types.items():
            if name in IBSI2_TYPES:
                filters(name, custom or {}, source)
        kept = {k: v for k, v in image_types.items() if k not in IBSI2_TYPES}
        data = {**data, "imageType": kept or {"Original": {}}}
    if isinstance(data.get("featureClass"), dict):
        data = {**data, "featureClass": {k: v for k, v in data["featureClass"].items() if k not in OURS_ONLY}}
    return data


def _validate_without_pyradiomics(data: dict, source: str | None) -> None:
    from .engine.classes import FEATURES, IMAGE_TYPES

    for section in ("imageType", "featureClass", "setting"):
        if data.get(section) is not None and not isinstance(data[section], dict):
            raise SettingsError(f"invalid PyRadiomics parameters: '{section}' must be a mapping", file=source)
    unknown = [c for c in (data.get("featureClass") or {}) if c not in FEATURES] + \
              [t for t in (data.get("imageType") or {}) if t not in IMAGE_TYPES + _PYRADIOMICS_IMAGE_TYPES]
    if unknown:
        raise SettingsError(f"invalid PyRadiomics parameters: unknown {', '.join(unknown)}", file=source,
                            hint="see https://pyradiomics.readthedocs.io/en/latest/customization.html")
    _without_ours(data, source)


#: PyRadiomics' image types besides Original (``imageoperations.getImageTypes``).
_PYRADIOMICS_IMAGE_TYPES = ("LoG", "Wavelet", "Square", "SquareRoot", "Logarithm", "Exponential", "Gradient",
                            "LBP2D", "LBP3D")


def load_params(preset: str | None = None, params_file: str | Path | None = None,
                params: dict | None = None) -> ExtractionParams:
    """Settings from exactly one of: a preset name, a parameter file, a dict."""
    given = [x is not None for x in (preset, params_file, params)]
    if sum(given) > 1:
        raise SettingsError("give either a preset or a parameter file, not both",
                            hint="use --preset NAME or --params FILE.yaml")
    if params is not None:
        return params_from_dict(params)
    if params_file is not None:
        path = Path(params_file)
        return params_from_dict(_read_yaml(path), name=path.stem, source=str(path))
    path = preset_path(preset or "MR")
    return params_from_dict(_read_yaml(path), name=preset or "MR", source=str(path))
