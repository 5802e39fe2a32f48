"""Headless Chromium through selenium, for the report's browser tests and its screenshot in
the docs (docs/screenshot_report.py)."""

from __future__ import annotations

import shutil
from typing import Any

MISSING = "no headless Chromium: install Debian's chromium and chromium-driver (apt-get install chromium chromium-driver) and selenium (pip install -e '.[dev]')"


def chromium_driver(window: str = "1400,1150") -> Any | None:
    """A headless Chrome WebDriver, or None when selenium, Chromium or its driver is missing."""
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        return None
    chromium = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    driver_path = shutil.which("chromedriver")
    if not (chromium and driver_path):
        return None
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", f"--window-size={window}"):
        options.add_argument(argument)
    return webdriver.Chrome(options=options, service=Service(driver_path))
