"""The catalog entry passes the Extensions Index's own rules (defect 6).

The rules are those of Slicer/ExtensionsIndex's checker (scripts/check_description_files.py, recorded with
their source in Testing/data/extensions-index-rules.json), applied here to ExtensionsIndex/RadiomicsWorkshop.json
and this repository as the checker applies them to a clone of the entry's scm_url: schema (Slicer's v1.0.2,
Testing/data), LF line endings, extension name, category, repository name, scm_url syntax, the top-level
CMakeLists.txt (project name, icon and screenshot URLs as its regular expressions read them), a licence file at
the root, the repository's size and the entries it depends on. Not checked here (they need the network):
cloning, GitHub topics ("3d-slicer-extension") and downloading the icon and screenshots.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import pytest

REPO = Path(__file__).resolve().parents[2]
ENTRY_FILE = REPO / "ExtensionsIndex" / "RadiomicsWorkshop.json"
RULES = json.loads((REPO / "Testing" / "data" / "extensions-index-rules.json").read_text())
SCHEMA = REPO / "Testing" / "data" / "slicer-extension-catalog-entry-schema-v1.0.2.json"
CMAKELISTS = (REPO / "CMakeLists.txt").read_text()
NAME = ENTRY_FILE.stem
ENTRY = json.loads(ENTRY_FILE.read_text())


def test_schema_and_file_format():
    import jsonschema

    jsonschema.validate(ENTRY, json.loads(SCHEMA.read_text()))
    assert ENTRY["$schema"].split("#")[0].endswith(SCHEMA.name)
    raw = ENTRY_FILE.read_bytes()
    assert b"\r" not in raw, "the index wants LF line endings only"


def test_extension_name_and_category():
    assert not NAME.lower().startswith("slicer"), "extension names may not start with 'Slicer'"
    assert ENTRY["category"] in RULES["accepted_categories"], (
        f"category {ENTRY['category']!r} is not one the index accepts: {RULES['accepted_categories']}")


def test_repository_name_and_scm_url():
    url = ENTRY["scm_url"]
    assert "://" in url and urlsplit(url).scheme in RULES["scm_url_schemes"], url
    repository = Path(urlsplit(url).path.split("/")[-1]).stem
    assert repository.startswith(tuple(RULES["repository_name_prefixes"])), (
        f"repository {repository!r} must start with one of {RULES['repository_name_prefixes']}")


def test_top_level_cmakelists_as_the_checker_reads_it():
    project = re.search(r"project\s*\(\s*([^\s\)\n\r]+)", CMAKELISTS, re.I)
    assert project and project.group(1) == NAME, "project() must name the extension as the JSON file does"
    assert re.search(r'set\s*\(EXTENSION_ICONURL\s*"([^"]+)"[ ]*\)', CMAKELISTS), "EXTENSION_ICONURL: quoted URL"
    screenshots = re.search(r'set\s*\(EXTENSION_SCREENSHOTURLS\s*"([^"]+)"\)', CMAKELISTS)
    assert screenshots, "EXTENSION_SCREENSHOTURLS: quoted URLs, no space before ')'"
    for url in screenshots.group(1).split() + [re.search(r'EXTENSION_ICONURL\s*"([^"]+)"', CMAKELISTS).group(1)]:
        assert url.startswith("http") and url.lower().endswith((".png", ".jpg", ".jpeg", ".gif")), url


def test_licence_file_at_the_root():
    found = [name for name in RULES["license_file_names"] if (REPO / name).is_file()]
    assert found, f"no licence file at the repository root (one of {RULES['license_file_names']})"
    text = (REPO / found[0]).read_text()
    assert "Apache License" in text and "Version 2.0" in text, "the licence file is not the Apache-2.0 the package declares"
    assert 'license = { text = "Apache-2.0" }' in (REPO / "pyproject.toml").read_text()


def test_build_dependencies_are_index_entries():
    for dependency in ENTRY.get("build_dependencies", []):
        assert dependency in RULES["index_entries_depended_on"], f"{dependency}: not an entry of the index"


def test_repository_size_under_the_limit():
    files = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, text=True).stdout.split("\0")
    if not any(files):
        pytest.fail("not a git checkout: cannot measure the repository", pytrace=False)
    size = sum((REPO / f).stat().st_size for f in files if f and (REPO / f).is_file())
    assert size < RULES["repository_size_limit_mb"] * 1e6 / 2, f"{size / 1e6:.1f} MB of files (limit with .git: 100 MB)"


def test_superbuild_matches_the_entry():
    """The entry builds in EXTENSION_BUILD_SUBDIRECTORY (the superbuild's inner build)."""
    inner = re.search(r"set\(EXTENSION_BUILD_SUBDIRECTORY (\S+)\)", CMAKELISTS)
    assert inner and ENTRY["build_subdirectory"] == inner.group(1)
