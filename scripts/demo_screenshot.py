"""Open the demo of a detector in headless Chromium, upload an image, and save a screenshot of the page.

    python scripts/demo_screenshot.py --model RUN --image ../shared/data/deepart/Aigc/Gushici-3.jpg --out docs/demo.png

Uses Debian's Chromium and its chromedriver (``apt-get install chromium chromium-driver``) through Selenium;
nothing is downloaded. The browser test of the demo (tests/inference/test_demo_browser.py) drives the page
with the same functions.
"""

from __future__ import annotations

import argparse
import contextlib
import socket
import time
from collections.abc import Iterator
from pathlib import Path

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
TIMEOUT_S = 120  # a crop model's heat map takes a while on a busy CPU with few cores


def missing_browser() -> str | None:
    """Why the browser cannot be driven here, or None."""
    missing = [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not path.exists()]
    if missing:
        return f"no {' and no '.join(missing)} (install Debian's chromium and chromium-driver; .ci/run does)"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[test]')"
    return None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def served(demo) -> Iterator[str]:
    """The demo's Blocks launched on a free local port, in this process; yields its URL."""
    port = free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        demo.close()


@contextlib.contextmanager
def browser(width: int = 1400, height: int = 1800):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        f"--window-size={width},{height}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def upload(driver, path: Path) -> None:
    """Choose ``path`` in the image box's file input, as a person picking a file does (the page renders its
    components with JavaScript after loading, so the input is waited for)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    field = WebDriverWait(driver, TIMEOUT_S).until(
        expected_conditions.presence_of_element_located((By.CSS_SELECTOR, "#upload input[type=file]"))
    )
    field.send_keys(str(Path(path).resolve()))


def wait_for_verdict(driver, containing: str, previous: str | None = None) -> str:
    """The text of the verdict box once it contains ``containing`` (and differs from ``previous``)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    def ready(driver):
        text = driver.find_element(By.ID, "verdict").get_attribute("innerText")
        return text if containing in text and text != previous else False

    return WebDriverWait(driver, TIMEOUT_S, poll_frequency=0.5).until(ready)


def wait_for_page_text(driver, containing: str) -> str:
    """The page's text once it contains ``containing`` (Gradio's own messages appear as toasts)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    def ready(driver):
        text = driver.find_element(By.TAG_NAME, "body").get_attribute("innerText")
        return text if containing in text else False

    return WebDriverWait(driver, TIMEOUT_S, poll_frequency=0.5).until(ready)


def read_probabilities(driver) -> dict[str, float]:
    """The probabilities gr.Label shows, from the value of each class's bar (the exact number sent to the page)."""
    from selenium.webdriver.common.by import By

    meters = driver.find_elements(By.CSS_SELECTOR, "#probabilities meter")
    return {meter.get_attribute("aria-label"): float(meter.get_attribute("value")) for meter in meters}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--image", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=Path("docs/demo.png"))
    args = parser.parse_args()
    reason = missing_browser()
    if reason:
        raise SystemExit(f"cannot take the screenshot: {reason}")
    from deepart_hf.console import setup_console
    from deepart_hf.inference.demo import build_demo

    setup_console()
    with served(build_demo(args.model)) as url, browser() as driver:
        driver.get(url)
        upload(driver, args.image)
        print(wait_for_verdict(driver, "P(ai)"))
        time.sleep(3)  # the heat map image is fetched after the text arrives
        args.out.parent.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(args.out))
    print(f"Wrote {args.out}")


if __name__ == "__main__":
    main()
