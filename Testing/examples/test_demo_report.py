"""`make demo`: the whole workflow through the command line into one folder, and its report in a real browser.

The demo (``radiomics-workshop demo``, what ``make demo`` runs) goes once into a
temporary folder: PyRadiomics' sample cases, a generated cohort of 20 lesion
phantoms (the fewest it takes; 40 by default), preprocessing, radiomics and deep features, a model with nested
patient-grouped cross-validation, predictions, auto-segmentation. The model's
``report.html`` is then opened in headless Chromium (selenium with the system's
chromedriver; nothing is downloaded): every figure must have loaded, decode to
a non-blank picture and be painted on the page, and the console must show no
error. Chromium missing is a failure that says how to install it, not a skip.
"""

from __future__ import annotations

import io
import json
import shutil

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk
from clitools import cli

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "chrome")
INSTALL = ("headless Chromium and chromedriver are needed for this test: `make setup` installs them (as root, with "
           "apt-get), or run `sudo apt-get install chromium chromium-driver` (Debian; elsewhere your system's "
           "chromium and chromedriver packages)")
FIGURES = ("ROC curve", "Confusion matrix", "Calibration", "Decision curve", "Permutation importance")

# Per <img>: load state, natural and laid-out size, and statistics of its decoded pixels (drawn onto a canvas).
IMAGE_STATS = """
return Array.from(document.images).map(img => {
  const box = img.getBoundingClientRect();
  const out = {alt: img.alt, complete: img.complete, width: img.naturalWidth, height: img.naturalHeight,
               shown_width: box.width, shown_height: box.height, variance: 0, colours: 0};
  if (!img.complete || !img.naturalWidth || !img.naturalHeight) return out;
  const canvas = document.createElement('canvas');
  canvas.width = img.naturalWidth; canvas.height = img.naturalHeight;
  const context = canvas.getContext('2d');
  context.drawImage(img, 0, 0);
  const px = context.getImageData(0, 0, canvas.width, canvas.height).data;
  let n = 0, sum = 0, sum2 = 0;
  const colours = new Set();
  for (let i = 0; i < px.length; i += 4) {
    const grey = 0.299 * px[i] + 0.587 * px[i + 1] + 0.114 * px[i + 2];
    n++; sum += grey; sum2 += grey * grey;
    if (colours.size < 4096) colours.add((px[i] << 16) | (px[i + 1] << 8) | px[i + 2]);
  }
  out.variance = sum2 / n - (sum / n) ** 2;
  out.colours = colours.size;
  return out;
});
"""


def _png_stats(png: bytes) -> tuple[float, int]:
    """Grey-level variance and number of distinct colours of a PNG (a screenshot)."""
    from PIL import Image

    rgb = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=float)
    grey = rgb @ np.array([0.299, 0.587, 0.114])
    return float(grey.var()), len(np.unique(rgb.reshape(-1, 3), axis=0))


def report_problems(driver, report) -> tuple[list[dict], list[str]]:
    """Open ``report`` in the browser; its images' statistics and every problem found (empty when it renders)."""
    from selenium.webdriver.common.by import By

    driver.get(report.resolve().as_uri())
    problems = []
    if driver.execute_script("return document.readyState") != "complete":
        problems.append("the page did not finish loading")
    stats = driver.execute_script(IMAGE_STATS)
    for image in stats:
        name = image["alt"] or "an image without alt text"
        if not image["complete"] or image["width"] == 0 or image["height"] == 0:
            problems.append(f"{name}: did not load (naturalWidth {image['width']})")
        elif image["variance"] < 50 or image["colours"] < 16:
            problems.append(f"{name}: blank (pixel variance {image['variance']:.1f}, {image['colours']} colours)")
        if image["shown_width"] < 50 or image["shown_height"] < 50:
            problems.append(f"{name}: not laid out on the page ({image['shown_width']} x {image['shown_height']})")
    for element in driver.find_elements(By.TAG_NAME, "img"):
        if element.size["width"] and element.size["height"]:
            variance, colours = _png_stats(element.screenshot_as_png)
            if variance < 50 or colours < 16:
                problems.append(f"{element.get_attribute('alt')}: painted blank on the page (variance {variance:.1f})")
    for entry in driver.get_log("browser"):
        if entry["level"] == "SEVERE":
            problems.append(f"console error: {entry['message']}")
    return stats, problems


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium through selenium, with the system's chromedriver (Selenium Manager never runs)."""
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.fail("selenium is not installed: pip install -r requirements-dev.txt (or `make setup`)", pytrace=False)
    binary = next((path for name in BROWSERS if (path := shutil.which(name))), None)
    driver_path = shutil.which("chromedriver")
    if binary is None or driver_path is None:
        pytest.fail(f"{'Chromium' if binary is None else 'chromedriver'} not found: {INSTALL}", pytrace=False)
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--window-size=1280,1024", "--disable-extensions"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(driver_path))
    yield driver
    driver.quit()


PHANTOMS = 20  # the fewest the demo takes (5-fold CV); `make demo` runs its default, 40


@pytest.fixture(scope="module")
def demo(tmp_path_factory, data_dir):
    out = tmp_path_factory.mktemp("demo") / "demo"
    done = cli("demo", "--out", out, "--data", data_dir, "--phantoms", PHANTOMS, "--progress", "none")
    return out, done


@pytest.mark.slow
def test_report_renders_in_headless_chromium(browser, demo):
    out, _ = demo
    stats, problems = report_problems(browser, out / "model" / "report.html")
    assert not problems, "\n".join(problems)
    # Every figure of the report is there: the four of the cross-validation and the feature importance.
    alts = [image["alt"] for image in stats]
    for figure in FIGURES:
        assert sum(alt.startswith(figure) for alt in alts) == 1, (figure, alts)


@pytest.mark.slow
def test_demo_runs_the_whole_workflow_into_one_folder(demo):
    out, done = demo
    for name in ("README.md", "commands.sh", "manifest.csv", "features_MR.csv", "features_brain1_slicewise.csv",
                 "preprocessed/manifest.csv", "features_brain1_preprocessed.csv", "recipe_phantoms.yaml",
                 "phantoms/manifest.csv", "phantoms_preprocessed/manifest.csv", "phantoms_radiomics.csv",
                 "phantoms_deep.csv", "phantoms_merged.csv", "model/report.html", "model/model.skops",
                 "model/card.json", "model/predictions.csv", "sample_predictions.csv",
                 "seg_model/models/model.pt", "seg_model/configs/inference.json", "new_phantoms/manifest.csv",
                 "seg_new_phantoms/manifest.csv", "seg_metrics.csv"):
        assert (out / name).is_file(), name
    assert not (out / "features_ibsi_phantom.csv").exists()  # only with --ibsi
    assert len(pd.read_csv(out / "features_MR.csv")) == 5
    # Every step went through the command line, in order; the commands are kept.
    commands = (out / "commands.sh").read_text().splitlines()
    steps = [line.split()[1] for line in commands if line.startswith("radiomics-workshop ")]
    assert steps == ["sample-data", "extract", "extract", "preprocess", "extract", "sample-data", "preprocess",
                     "extract", "deep-features", "merge", "train", "preprocess", "extract", "deep-features", "merge",
                     "predict", "train-seg", "sample-data", "segment", "evaluate-seg"]
    # The model was trained on radiomics and deep features of the phantoms, validated by patient.
    card = json.loads((out / "model" / "card.json").read_text())
    assert card["training_data"]["patients"] == PHANTOMS and card["cv_design"]["grouped_by"] == "patient_id"
    assert any(f.startswith("deep_resnet18") for f in card["features"])
    assert any(f.startswith("original_glcm") for f in card["features"])
    assert card["cross_validation"]["metrics"]["auc"] >= 0.9  # the classes differ in texture and shape
    predictions = pd.read_csv(out / "sample_predictions.csv")
    assert list(predictions["case_id"]) == ["brain1", "brain2", "breast1", "lung1", "lung2"]
    assert set(predictions["predicted"]) <= {"fine", "coarse"}
    # The segmentation network, a few epochs on the phantoms, finds the lesions of 8 new ones.
    seg = pd.read_csv(out / "seg_metrics.csv")
    assert len(seg) == 8 and seg["dice"].mean() >= 0.8, seg
    # Random deep-feature weights are stated where the user looks: the terminal and the folder's README.
    readme = (out / "README.md").read_text()
    for text in (readme, done.stderr):
        assert "random weights" in text and "pretrained" in text
    assert "report.html" in readme and "seg_metrics.csv" in readme


def test_demo_refuses_a_folder_in_use_and_bad_sizes(tmp_path):
    (tmp_path / "mine.txt").write_text("not a demo")
    done = cli("demo", "--out", tmp_path, check=False)
    assert done.returncode == 2 and "not empty" in done.stderr and "--overwrite" in done.stderr
    done = cli("demo", "--out", tmp_path / "new", "--phantoms", "6", check=False)
    assert done.returncode == 2 and "at least 20" in done.stderr and not (tmp_path / "new").exists()
    done = cli("demo", "--out", tmp_path / "new", "--ibsi", tmp_path / "nowhere", check=False)
    assert done.returncode == 2 and "IBSI" in done.stderr


def test_phantom_cohort_is_labelled_seeded_and_differs_by_class(tmp_path):
    cli("sample-data", "--phantoms", "12", "--dest", tmp_path / "a")
    cli("sample-data", "--phantoms", "12", "--dest", tmp_path / "b", "--manifest", tmp_path / "b.csv")
    manifest = pd.read_csv(tmp_path / "a" / "manifest.csv")
    assert list(manifest.columns) == ["case_id", "image", "mask", "patient_id", "label", "site"]
    assert manifest["patient_id"].is_unique and len(manifest) == 12
    assert pd.crosstab(manifest["label"], manifest["site"]).to_numpy().min() >= 2  # both classes at both sites
    # Same seed, same images; paths relative to the manifest wherever it is.
    other = pd.read_csv(tmp_path / "b.csv")
    assert other["image"].iloc[0] == "b/lesion00.nrrd"
    for a, b in zip(manifest["image"], other["image"]):
        assert np.array_equal(sitk.GetArrayFromImage(sitk.ReadImage(str(tmp_path / "a" / a))),
                              sitk.GetArrayFromImage(sitk.ReadImage(str(tmp_path / b))))
    # What separates the classes: coarse lesions are elongated, fine ones round.
    elongation = {"fine": [], "coarse": []}
    for row in manifest.itertuples():
        mask = sitk.ReadImage(str(tmp_path / "a" / row.mask))
        shape = sitk.LabelShapeStatisticsImageFilter()
        shape.Execute(mask)
        assert shape.GetNumberOfPixels(1) > 500 and mask.GetSpacing() == (1.0, 1.0, 2.0)
        elongation[row.label].append(shape.GetElongation(1))
    assert min(elongation["coarse"]) > max(elongation["fine"]), elongation
    # Another seed, other images; an existing manifest is kept unless --overwrite.
    cli("sample-data", "--phantoms", "12", "--dest", tmp_path / "c", "--seed", "1")
    assert not np.array_equal(sitk.GetArrayFromImage(sitk.ReadImage(str(tmp_path / "c" / "lesion00.nrrd"))),
                              sitk.GetArrayFromImage(sitk.ReadImage(str(tmp_path / "a" / "lesion00.nrrd"))))
    done = cli("sample-data", "--phantoms", "12", "--dest", tmp_path / "a", check=False)
    assert done.returncode == 2 and "--overwrite" in done.stderr
    cli("sample-data", "--phantoms", "12", "--dest", tmp_path / "a", "--overwrite")
    for bad, message in ((["--phantoms", "2"], "at least 4"), (["--seed", "3"], "apply to --phantoms")):
        done = cli("sample-data", "--dest", tmp_path / "d", *bad, check=False)
        assert done.returncode == 2 and message in done.stderr, done.stderr
