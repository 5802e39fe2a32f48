"""Take docs/figures/report.png: the report of the example notebooks with one cell open.

    .venv/bin/coral run --out coral-demo
    PYTHONPATH=. .venv/bin/python docs/screenshot_report.py coral-demo/report.html docs/figures/report.png

Needs what the browser tests need: Chromium, chromium-driver and selenium.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from tests.views.browser import MISSING, chromium_driver


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", type=Path)
    parser.add_argument("png", type=Path)
    parser.add_argument("--notebook", type=int, default=1, help="which notebook's cells to open (its position in the list)")
    parser.add_argument("--block", type=int, default=7, help="which of its code cells to select")
    args = parser.parse_args()
    driver = chromium_driver("1400,1100")
    if driver is None:
        raise SystemExit(MISSING)
    try:
        driver.get(args.report.resolve().as_uri())
        WebDriverWait(driver, 30).until(lambda d: d.execute_script("return document.body.dataset.ready") == "true")
        barcode = driver.find_elements(By.CSS_SELECTOR, "#notebooks .barcode")[args.notebook]
        barcode.find_elements(By.CSS_SELECTOR, ".block")[args.block].click()
        args.png.parent.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(args.png))
    finally:
        driver.quit()


if __name__ == "__main__":
    main()
