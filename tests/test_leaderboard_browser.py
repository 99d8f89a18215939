"""The leaderboard page in a real browser: headless Chromium (Debian's ``chromium`` and ``chromedriver``,
driven by selenium) opens a page rendered from real leaderboard files and the test asserts on the DOM.

The leaderboards are built from real runs: a tiny random reward model and the length and random
baselines on LLMBar (sections and subsets), and the two baselines on RM-Bench, so the page holds two
tasks. The table must have one row per entry, a click on a header must sort (a second click
reverses), interval cells carry a tooltip and plotly shows a hover label, every task has a plot
that plotly drew, and a click on a row opens the model's manifest. A screenshot is kept in
``$RMBENCH_TEST_ARTIFACTS`` (default ``tests/artifacts/``).

Without Chromium, chromedriver or selenium the test is skipped, except when ``CI`` is set: then it
fails, so CI cannot pass without having looked at the page.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from rmbench.cli.commands import app

CHROMIUM = os.environ.get("RMBENCH_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("RMBENCH_CHROMEDRIVER", "/usr/bin/chromedriver")
ARTIFACTS = Path(os.environ.get("RMBENCH_TEST_ARTIFACTS", Path(__file__).parent / "artifacts"))


def _missing(why: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{why}; CI must run the browser test (apt-get install chromium chromium-driver)")
    pytest.skip(why)


def _run(out: Path, data_dir: Path, task: str, model: str, kind: str, limit: int, seed: int = 0) -> Path:
    from rmbench.runner import RunConfig, run

    run(RunConfig.from_flat(task=task, model=model, kind=kind, seed=seed, limit=limit, data_dir=data_dir,
                            out_dir=out, n_bootstrap=200))
    return out


@pytest.fixture(scope="module")
def boards(tmp_path_factory: pytest.TempPathFactory, data_dir: Path, tiny_rm_dir: Path) -> list[Path]:
    root = tmp_path_factory.mktemp("page-runs")
    out: list[Path] = []
    llmbar = [_run(root / "llmbar" / "tiny-rm", data_dir, "llmbar", str(tiny_rm_dir), "scalar", 8),
              _run(root / "llmbar" / "length", data_dir, "llmbar", "baseline:length", "baseline", 8),
              _run(root / "llmbar" / "random", data_dir, "llmbar", "baseline:random", "baseline", 8)]
    rmb = [_run(root / "rm-bench" / "length", data_dir, "rm-bench", "baseline:length", "baseline", 3),
           _run(root / "rm-bench" / "random", data_dir, "rm-bench", "baseline:random", "baseline", 3)]
    for task, runs in (("llmbar", llmbar), ("rm-bench", rmb)):
        path = root / "leaderboards" / f"{task}.json"
        res = CliRunner().invoke(app, ["leaderboard", "build", *map(str, runs), "--runs-root", str(root),
                                       "--out", str(path), "--n-bootstrap", "300"])
        assert res.exit_code == 0, res.output
        out.append(path)
    return out


@pytest.fixture(scope="module")
def page(boards: list[Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("page") / "leaderboard.html"
    res = CliRunner().invoke(app, ["leaderboard", "render", *map(str, boards), "--out", str(path)])
    assert res.exit_code == 0, res.output
    return path


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        _missing(f"headless Chromium not found ({CHROMIUM}, {CHROMEDRIVER})")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        _missing("selenium is not installed (pip install 'rmbench[dev]')")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--window-size=1400,1600"):
        options.add_argument(flag)
    # the Debian chromedriver, so Selenium Manager never tries to download one
    driver = webdriver.Chrome(service=Service(executable_path=shutil.which(CHROMEDRIVER) or CHROMEDRIVER),
                              options=options)
    driver.set_page_load_timeout(120)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def opened(browser: Any, page: Path) -> Any:
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(page.as_uri())
    WebDriverWait(browser, 60).until(
        lambda d: d.execute_script("return document.readyState") == "complete"
        and len(d.find_elements("css selector", ".js-plotly-plot .main-svg")) > 0)
    return browser


def _docs(boards: list[Path]) -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in boards]


def _section(driver: Any, i: int) -> Any:
    return driver.find_element("id", f"board-t{i}")


def _names(table: Any) -> list[str]:
    return [r.get_attribute("data-entry") for r in table.find_elements("css selector", "tbody tr")]


def test_one_table_row_per_model(opened: Any, boards: list[Path]) -> None:
    docs = _docs(boards)
    assert len(opened.find_elements("css selector", "section.board")) == len(docs)
    for i, doc in enumerate(docs):
        rows = _section(opened, i).find_elements("css selector", "table.lb tbody tr")
        assert rows, f"the table of {doc['task']['name']} is empty"
        assert len(rows) == len(doc["entries"])
        assert [r.get_attribute("data-entry") for r in rows] == [e["name"] for e in doc["entries"]]
        headers = [h.text for h in _section(opened, i).find_elements("css selector", "thead th")]
        assert any(h.endswith("section") for h in headers) == bool(doc["entries"][0].get("sections"))
        assert sum(h.endswith("subset") for h in headers) == len(doc["task"]["subsets"])


def test_a_click_on_a_header_sorts_and_a_second_click_reverses(opened: Any, boards: list[Path]) -> None:
    doc = _docs(boards)[0]  # llmbar: the tiny model and two baselines, three different accuracies
    table = _section(opened, 0).find_element("css selector", "table.lb")
    header = table.find_elements("css selector", "thead th")[4]
    assert header.text.startswith(doc["task"]["primary_metric"])
    value = {e["name"]: e["overall"]["metrics"][doc["task"]["primary_metric"]]["value"] for e in doc["entries"]}
    assert len(set(value.values())) == len(value), "the test needs distinct scores"
    ranked = _names(table)
    header.click()
    ascending = _names(table)
    assert ascending == sorted(value, key=lambda n: value[n]) and ascending != ranked
    assert header.get_attribute("aria-sort") == "ascending"
    header.click()
    assert _names(table) == ascending[::-1] == ranked
    assert header.get_attribute("aria-sort") == "descending"


def test_interval_cells_have_a_tooltip_and_plotly_a_hover_label(opened: Any, boards: list[Path]) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.support.ui import WebDriverWait

    doc = _docs(boards)[0]
    est = doc["entries"][0]["overall"]["metrics"][doc["task"]["primary_metric"]]
    row = _section(opened, 0).find_element("css selector", f"tr[data-entry='{doc['entries'][0]['name']}']")
    title = row.find_elements("css selector", "td")[4].get_attribute("title")
    assert f"{est['low'] * 100:.1f} to {est['high'] * 100:.1f}" in title and "95% CI" in title
    assert row.find_element("css selector", "td .bar").get_attribute("title") == title
    bar = _section(opened, 0).find_element("css selector", ".js-plotly-plot g.point path")
    opened.execute_script("arguments[0].scrollIntoView({block: 'center'})", bar)
    ActionChains(opened).move_to_element(bar).perform()
    WebDriverWait(opened, 10).until(lambda d: d.find_elements("css selector", ".hoverlayer g.hovertext"))
    hover = " ".join(t.text for t in opened.find_elements("css selector", ".hoverlayer g.hovertext"))
    assert doc["task"]["primary_metric"] in hover and "[" in hover


def test_every_task_has_a_plot_with_the_model_and_the_length_baseline(opened: Any, boards: list[Path]) -> None:
    for i, doc in enumerate(_docs(boards)):
        plots = _section(opened, i).find_elements("css selector", ".plot .js-plotly-plot")
        assert len(plots) == 1, f"no plot for {doc['task']['name']}"
        assert plots[0].find_elements("css selector", "svg.main-svg"), f"plotly drew no svg for {doc['task']['name']}"
        traces = plots[0].find_elements("css selector", "g.trace.bars")
        assert len(traces) == 2  # the model and the length baseline beside it
        n_bars = [len(t.find_elements("css selector", "g.point")) for t in traces]
        assert n_bars == [len(doc["entries"])] * 2
        legend = plots[0].find_element("css selector", "g.legend").text
        assert "length baseline" in legend
        assert plots[0].find_elements("css selector", "g.errorbar"), "no error bars drawn"


def test_a_click_on_a_row_opens_the_models_manifest(opened: Any, boards: list[Path]) -> None:
    doc = _docs(boards)[0]
    entry = next(e for e in doc["entries"] if e["model"]["kind"] == "scalar")
    section = _section(opened, 0)
    row = section.find_element("css selector", f"tr[data-entry='{entry['name']}']")
    panel = opened.find_element("id", row.get_attribute("data-panel"))
    assert panel.get_attribute("open") is None
    opened.execute_script("arguments[0].scrollIntoView({block: 'center'})", row)
    row.find_elements("css selector", "td")[2].click()
    assert panel.get_attribute("open") == "true"
    text = panel.text
    for value in (entry["provenance"]["weights_sha256"], entry["provenance"]["chat_template_sha256"],
                  entry["provenance"]["rmbench_version"], doc["data_fingerprint"],
                  entry["manifest"]["items_jsonl_sha256"], entry["run_dir"]):
        assert value in text
    assert f"rmbench leaderboard verify {Path(boards[0]).as_posix()} --runs-root" in text


def test_the_page_fetches_nothing_and_a_screenshot_is_kept(opened: Any) -> None:
    fetched = opened.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert [u for u in fetched if not u.startswith(("file:", "data:", "blob:"))] == []
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "leaderboard_page.png"
    shot.unlink(missing_ok=True)
    opened.execute_script("window.scrollTo(0, 0)")
    assert opened.save_screenshot(str(shot))
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert width >= 800 and height >= 600 and len(data) > 20_000
