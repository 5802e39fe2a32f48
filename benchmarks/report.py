"""Time the HTML report in headless Chromium: loading and drawing it, paging, searching and
opening a notebook's cells.

    coral report CORPUS --model heuristics --out report.html
    PYTHONPATH=. python benchmarks/report.py report.html

Prints the report's size and one line per step. Needs Chromium, chromium-driver and selenium.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from tests.views.browser import MISSING, chromium_driver


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", type=Path)
    args = parser.parse_args()
    driver = chromium_driver()
    if driver is None:
        raise SystemExit(MISSING)

    def step(label: str, action) -> None:
        start = time.perf_counter()
        action()
        driver.execute_script("return 0")  # waits for the page's script to finish the step
        print(f"{label:<32} {time.perf_counter() - start:6.2f} s")

    print(f"{args.report}: {args.report.stat().st_size / 1e6:.1f} MB")
    try:
        step("load and draw", lambda: (driver.get(args.report.resolve().as_uri()), WebDriverWait(driver, 300).until(
            lambda d: d.execute_script("return document.body.dataset.ready") == "true")))
        step("next page of 50 notebooks", lambda: driver.find_element(By.CSS_SELECTOR, ".next").click())
        step("search (type 5 characters)", lambda: driver.find_element(By.ID, "search").send_keys("model"))
        step("open a notebook at a cell", lambda: driver.find_elements(By.CSS_SELECTOR, "#notebooks .block")[0].click())
        heap = driver.execute_script("return performance.memory ? performance.memory.usedJSHeapSize : null")
        print(f"{'JavaScript heap':<32} {heap / 1e6:6.0f} MB" if heap else "")
    finally:
        driver.quit()


if __name__ == "__main__":
    main()
