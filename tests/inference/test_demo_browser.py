"""The demo as a person meets it: served on a free local port, opened in headless Chromium, an image from the
DeepArt sample uploaded, the probabilities read off the page; then a PDF (refused by the page itself) and a
truncated PNG (refused by the demo), each with a message, and the server still scores the next image."""

import os
import sys

import pytest

from helpers import DEEPART_SAMPLE, REPO

sys.path.insert(0, str(REPO / "scripts"))
import demo_screenshot as page

# Skipped only on a machine without Debian's chromium; CI installs it and sets DEEPART_HF_REQUIRE_BROWSER, so
# there a missing browser fails the test instead of hiding it.
if page.missing_browser() is not None and os.environ.get("DEEPART_HF_REQUIRE_BROWSER"):
    raise RuntimeError(f"DEEPART_HF_REQUIRE_BROWSER is set but {page.missing_browser()}")
pytestmark = pytest.mark.skipif(
    page.missing_browser() is not None, reason=f"no browser to drive: {page.missing_browser()}"
)


def test_the_demo_in_a_browser(crop_detector, crop_run, tmp_path):
    from deepart_hf.inference.demo import build_demo

    image = DEEPART_SAMPLE / "Human" / "Gushici-2.PNG"
    expected = crop_detector.predict([image])[0].prob_ai
    (tmp_path / "letter.pdf").write_bytes(b"%PDF-1.4\n%%EOF\n")
    (tmp_path / "cut.png").write_bytes(image.read_bytes()[:5000])
    with page.served(build_demo(crop_detector, figures_from=crop_run[0])) as url, page.browser() as driver:
        driver.get(url)
        page.upload(driver, image)
        verdict = page.wait_for_verdict(driver, "P(ai)")
        shown = page.read_probabilities(driver)
        assert shown["ai"] == pytest.approx(expected, abs=1e-12) and shown["human"] == pytest.approx(
            1 - expected, abs=1e-12
        )
        assert f"P(ai) = {expected:.3f}" in verdict
        assert "What this detector measured" in driver.page_source

        page.upload(driver, tmp_path / "letter.pdf")  # the page checks the type before uploading
        assert "Invalid file type: letter.pdf" in page.wait_for_page_text(driver, "Invalid file type")

        page.upload(driver, tmp_path / "cut.png")  # an image by its name: the demo decodes it and says why not
        error = page.wait_for_verdict(driver, "Cannot score", previous=verdict)
        assert "cut.png" in error and "corrupt or truncated" in error

        page.upload(driver, image)  # the server is still there and scores the next file
        assert f"P(ai) = {expected:.3f}" in page.wait_for_verdict(driver, "P(ai)", previous=error)
