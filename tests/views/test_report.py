"""``coral report``: the embedded data, no network, and the page in headless Chromium."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from coral.cli import app
from coral.corpora.readers import example_paths, read_notebooks
from coral.predictions import read_predictions
from coral.stages import STAGE_NAMES
from coral.studies.composition import overall_composition, stage_fractions
from coral.studies.frame import as_frame

from .browser import MISSING, chromium_driver


def embedded_data(report: Path) -> dict:
    html = report.read_text(encoding="utf-8")
    match = re.search(r'<script type="application/json" id="coral-data">(.*?)</script>', html, re.S)
    assert match, "the report embeds its data"
    return json.loads(match.group(1))


@pytest.fixture(scope="module")
def example_report(tmp_path_factory) -> tuple[Path, Path]:
    """A report of the example notebooks from the predictions of ``coral predict``."""
    folder = tmp_path_factory.mktemp("report")
    predictions = folder / "predictions.jsonl"
    result = CliRunner().invoke(app, ["predict", *map(str, example_paths()), "--model", "heuristics", "--out", str(predictions)])
    assert result.exit_code == 0, result.output
    report = folder / "report.html"
    result = CliRunner().invoke(app, ["report", *map(str, example_paths()), "--predictions", str(predictions), "--out", str(report)])
    assert result.exit_code == 0, result.output
    return report, predictions


def test_the_report_needs_no_network(example_report):
    html = example_report[0].read_text(encoding="utf-8")
    assert not re.search(r"<script[^>]+src=|<link[^>]+href=|@import|url\(\s*['\"]?https?:", html)
    assert "https://" not in html and "http://" not in html


def test_the_report_holds_every_cell_and_the_studies_numbers(example_report):
    report, predictions_file = example_report
    data = embedded_data(report)
    notebooks = list(read_notebooks(example_paths()))
    assert [nb["name"] for nb in data["notebooks"]] == [nb.id for nb in notebooks]
    for shown, notebook in zip(data["notebooks"], notebooks):
        assert [cell[2] for cell in shown["cells"]] == [cell.source for cell in notebook.cells]
    predictions = {p.id: p for p in read_predictions(predictions_file)}
    for shown, notebook in zip(data["notebooks"], notebooks):
        for row, cell in zip(shown["cells"], notebook.cells):
            if cell.cell_type == "code":
                stage = predictions[cell.id].stage
                assert row[3] == (STAGE_NAMES.index(stage) if stage else -1)
    frame = as_frame(predictions_file)
    expected = overall_composition(frame, stage_fractions(frame))
    assert [row["cells"] for row in data["overview"]["composition"]] == expected["cells"].tolist()
    assert sum(map(sum, data["overview"]["transition_counts"])) > 0


def test_cell_text_cannot_end_the_embedded_script(tmp_path):
    notebook = tmp_path / "tricky.ipynb"
    notebook.write_text(json.dumps({
        "nbformat": 4, "nbformat_minor": 5, "metadata": {},
        "cells": [{"cell_type": "code", "id": "a", "metadata": {}, "outputs": [], "execution_count": None,
                   "source": "html = '</script><script>alert(1)</script>'"}],
    }))
    result = CliRunner().invoke(app, ["report", str(notebook), "--model", "heuristics", "--out", str(tmp_path / "r.html")])
    assert result.exit_code == 0, result.output
    assert embedded_data(tmp_path / "r.html")["notebooks"][0]["cells"][0][2] == "html = '</script><script>alert(1)</script>'"


def test_report_from_predictions_alone_shows_the_code_they_carry(tmp_path):
    predictions = tmp_path / "p.jsonl"
    result = CliRunner().invoke(app, ["predict", str(example_paths()[0]), "--model", "heuristics", "--with-source", "--out", str(predictions)])
    assert result.exit_code == 0, result.output
    result = CliRunner().invoke(app, ["report", "--predictions", str(predictions), "--out", str(tmp_path / "r.html")])
    assert result.exit_code == 0, result.output
    (shown,) = embedded_data(tmp_path / "r.html")["notebooks"]
    code = [cell.source for cell in next(read_notebooks(example_paths()[0])).code_cells]
    assert [cell[2] for cell in shown["cells"]] == code


def test_report_needs_something_to_show(tmp_path):
    result = CliRunner().invoke(app, ["report", "--out", str(tmp_path / "r.html")])
    assert result.exit_code == 1 and "--predictions" in result.output


# --- in a real browser ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium, or a skip that says what to install."""
    driver = chromium_driver()
    if driver is None:
        pytest.skip(MISSING)
    yield driver
    driver.quit()


PAGE = 50  # notebooks per page of the report's list


def check_report_in_browser(browser, report: Path, screenshot: Path) -> None:
    """Barcodes and the cell view render, a click on a block shows its cell, search and the
    stage filter narrow the list; then a screenshot."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ready
    from selenium.webdriver.support.ui import Select, WebDriverWait

    data = embedded_data(report)
    notebooks = data["notebooks"]
    browser.get(report.resolve().as_uri())
    WebDriverWait(browser, 30).until(lambda driver: driver.execute_script("return document.body.dataset.ready") == "true")

    barcodes = browser.find_elements(By.CSS_SELECTOR, "#notebooks .barcode")
    assert len(barcodes) == min(len(notebooks), PAGE)
    drawn = browser.execute_script(  # one round trip: the rendered size of every block, per barcode
        "return [...document.querySelectorAll('#notebooks .barcode')].map(bar => "
        "[...bar.querySelectorAll('.block')].map(block => [block.getBoundingClientRect().width, block.getBoundingClientRect().height]))"
    )
    for sizes, notebook in zip(drawn, notebooks):
        assert len(sizes) == sum(cell[0] == "c" for cell in notebook["cells"])
        assert all(width >= 2.9 and height > 0 for width, height in sizes)
    assert browser.find_element(By.CSS_SELECTOR, "#composition table").is_displayed()
    assert len(browser.find_elements(By.CSS_SELECTOR, "#legend li")) == len(STAGE_NAMES) + 2

    # a click on the third block (or the last) of the second notebook with code shows that cell, selected
    position, notebook = next((i, nb) for i, nb in enumerate(notebooks[:PAGE]) if i > 0 and any(c[0] == "c" for c in nb["cells"]))
    code = [row for row in notebook["cells"] if row[0] == "c"]
    pick = min(2, len(code) - 1)
    barcodes[position].find_elements(By.CSS_SELECTOR, ".block")[pick].click()
    selected = WebDriverWait(browser, 10).until(ready.visibility_of_element_located((By.CSS_SELECTOR, "#cell-view .cell.selected")))
    cell = code[pick]
    assert selected.get_attribute("data-index") == str(cell[1])
    assert selected.find_element(By.CSS_SELECTOR, "code").get_attribute("textContent") == cell[2]
    stage = "not labelled" if cell[3] is None else STAGE_NAMES[cell[3]] if cell[3] >= 0 else "no stage"
    assert selected.find_element(By.CSS_SELECTOR, ".stage-badge").text == stage
    assert browser.find_element(By.CSS_SELECTOR, "#cell-view h2").text == notebook["name"]
    assert len(browser.find_elements(By.CSS_SELECTOR, "#cell-view .cell")) == len(notebook["cells"])

    # search by name, then filter by stage
    query = notebook["name"].lower()
    browser.find_element(By.ID, "search").send_keys(query)
    names = [item.text for item in browser.find_elements(By.CSS_SELECTOR, "#notebooks .nb-name")]
    assert names == [nb["name"] for nb in notebooks if query in nb["name"].lower()][:PAGE]
    browser.find_element(By.ID, "search").clear()
    browser.execute_script("document.getElementById('search').dispatchEvent(new Event('input'))")
    Select(browser.find_element(By.ID, "stage-filter")).select_by_visible_text("MODEL")
    model = STAGE_NAMES.index("MODEL")
    with_model = [nb["name"] for nb in notebooks if any(row[0] == "c" and row[3] == model for row in nb["cells"])]
    assert [item.text for item in browser.find_elements(By.CSS_SELECTOR, "#notebooks .nb-name")] == with_model[:PAGE]

    assert browser.save_screenshot(str(screenshot))
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.browser
def test_example_report_in_a_browser(example_report, browser, tmp_path):
    check_report_in_browser(browser, example_report[0], tmp_path / "report.png")


@pytest.mark.browser
@pytest.mark.shared
@pytest.mark.slow
def test_report_of_two_hundred_github_notebooks_in_a_browser(browser, github_sample, tmp_path):
    report = tmp_path / "report.html"
    result = CliRunner().invoke(app, ["report", str(github_sample), "--model", "heuristics", "--out", str(report)])
    assert result.exit_code == 0, result.output
    assert len(embedded_data(report)["notebooks"]) > PAGE  # the list pages
    check_report_in_browser(browser, report, tmp_path / "report.png")
