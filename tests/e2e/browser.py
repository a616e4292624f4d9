"""Headless Chromium on the live page: Debian's chromium and chromedriver, driven by selenium.

Usage::

    with Browser.open("http://127.0.0.1:8080/", width=1024, height=768) as page:
        page.wait_text("#headline", "service1 leads", timeout=10)
        page.screenshot(path)
        assert page.console_errors() == []

Never downloads a driver or a browser: the system's ``chromedriver`` and ``chromium``
(apt-get install chromium chromium-driver) or none. The browser's console is read
through chromedriver's log (level SEVERE: uncaught errors, failed loads, CSP refusals)
and through the page's own ``error`` events, caught by a listener added before the
page's script runs.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from types import TracebackType

from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

CHROMIUM = ("chromium", "chromium-browser")
DRIVER = "chromedriver"
MISSING = (
    "the page's browser tests need chromium and its driver: "
    "apt-get install chromium chromium-driver"
)


def installed() -> bool:
    return shutil.which(DRIVER) is not None and any(shutil.which(name) for name in CHROMIUM)


class Browser:
    def __init__(self, driver: webdriver.Chrome) -> None:
        self.driver = driver

    @classmethod
    def open(cls, url: str, width: int = 1024, height: int = 768) -> Browser:
        binary = next(path for name in CHROMIUM if (path := shutil.which(name)))
        options = webdriver.ChromeOptions()
        options.binary_location = binary
        for argument in (
            "--headless=new",
            "--no-sandbox",  # as root in CI; the page is ours and local
            "--disable-dev-shm-usage",
            "--disable-gpu",
            "--no-first-run",
            "--disable-extensions",
            "--disable-background-networking",
            "--disable-component-update",
            "--hide-scrollbars",
            f"--window-size={width},{height}",
        ):
            options.add_argument(argument)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        service = Service(executable_path=shutil.which(DRIVER))
        driver = webdriver.Chrome(options=options, service=service)
        page = cls(driver)
        try:
            # Before any of the page's scripts: keep every uncaught error the page raises.
            driver.execute_cdp_cmd(
                "Page.addScriptToEvaluateOnNewDocument",
                {
                    "source": "window.__errors = [];"
                    "window.addEventListener('error', e => window.__errors.push("
                    "String(e.message || e.type)));"
                    "window.addEventListener('unhandledrejection', e => window.__errors.push("
                    "String(e.reason)));"
                },
            )
            # The viewport itself is width x height, as a projector's full screen.
            driver.execute_cdp_cmd(
                "Emulation.setDeviceMetricsOverride",
                {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
            )
            driver.get(url)
        except WebDriverException:
            driver.quit()
            raise
        return page

    def __enter__(self) -> Browser:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.driver.quit()

    def text(self, selector: str) -> str:
        return self.driver.find_element(By.CSS_SELECTOR, selector).text

    def wait_text(self, selector: str, wanted: str, timeout: float) -> float:
        """Wait until ``selector``'s text contains ``wanted``; the seconds it took."""
        started = time.monotonic()
        deadline = started + timeout
        seen = ""
        while time.monotonic() < deadline:
            try:
                seen = self.text(selector)
            except WebDriverException:
                seen = ""
            if wanted in seen:
                return time.monotonic() - started
            time.sleep(0.05)
        raise AssertionError(
            f"{selector} did not say {wanted!r} within {timeout:g} s; it says {seen!r}"
        )

    def screenshot(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.driver.save_screenshot(str(path))
        return path

    def page_load_count(self) -> float:
        """The page's navigation start time: unchanged as long as it was not reloaded."""
        return float(self.driver.execute_script("return performance.timeOrigin"))

    def console_errors(self) -> list[str]:
        """SEVERE console entries and uncaught errors since the page was opened."""
        logged = [
            entry["message"]
            for entry in self.driver.get_log("browser")
            if entry.get("level") == "SEVERE"
        ]
        caught = self.driver.execute_script("return window.__errors || []")
        return logged + [f"uncaught: {text}" for text in caught]
