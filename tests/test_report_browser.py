"""The HTML report in a real headless Chromium: it loads offline, logs no console error, shows
every figure with the headline forest plot first, and fits the page at 1280 and 1600 px.
Debian's chromium + chromium-driver come with the install command; on a machine without them
the test skips and says so."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from agra_bench.report import build_report
from tests.helpers.synthetic_runs import episode_row, write_run

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")

pytestmark = pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER),
    reason="Debian's chromium and chromium-driver are not installed (scripts/install.sh installs them)",
)


def _runs(root: Path) -> None:
    for policy, rate in (("wam", 3), ("agra", 2)):
        rows = []
        for task in range(3):
            for episode in range(12):
                rows.append(episode_row(policy, policy, task, episode, "none", episode % 4 != 0))
                for family in ("distractor", "texture", "lighting"):  # a task heatmap of 1540 px
                    for severity in (1, 3, 5):
                        for split in ("id", "ood"):
                            ok = (episode + severity + (split == "ood")) % rate != 0
                            name = family if severity == 3 else f"{family}:severity={severity}"
                            rows.append(episode_row(policy, policy, task, episode, name, ok, severity, split))
        write_run(root, policy, rows)


def test_html_report_renders_in_headless_chromium(tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    _runs(tmp_path)
    report = build_report([tmp_path])
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    try:
        driver.set_window_size(1400, 1000)
        driver.get((report.out / "index.html").as_uri())
        assert driver.title == "agra-bench report"
        images = driver.execute_script(
            "return Array.from(document.images).map(i => [i.complete, i.naturalWidth, i.naturalHeight]);"
        )
        assert len(images) == len(report.figures) + len(report.headline) >= 5
        assert all(complete and width > 100 and height > 100 for complete, width, height in images), images
        first = driver.execute_script("return document.querySelector('h2').textContent;")
        assert first.startswith("Headline"), first  # the forest plot leads the page
        rows = driver.execute_script("return document.querySelectorAll('table tr').length;")
        assert rows > len(report.leaderboard)
        errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        assert not errors, errors
        for width in (1280, 1600):  # no sideways scrolling of the page; tables scroll in their box
            driver.set_window_size(width, 1000)
            fits = driver.execute_script(
                "const page = document.documentElement;"
                "const images = Array.from(document.images)"
                ".every(i => i.getBoundingClientRect().right <= innerWidth);"
                "return [page.scrollWidth, innerWidth, images];"
            )
            assert fits[0] <= fits[1] and fits[2], (width, fits)
        if os.environ.get("AGRA_REPORT_SCREENSHOT"):  # used to refresh docs/report_screenshot.png
            driver.set_window_size(1400, 1000)
            driver.save_screenshot(os.environ["AGRA_REPORT_SCREENSHOT"])
    finally:
        driver.quit()
