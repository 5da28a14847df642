"""report.html renders in a real headless browser: no missing images, the chip and key numbers present."""

from __future__ import annotations

import re
import shutil
import subprocess

import numpy as np
import pytest

from xylodeploy.flow.html_report import write_html

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def _browser() -> str:
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    pytest.skip(f"no headless browser found ({', '.join(BROWSERS)}); on Debian: apt-get install chromium")


def _chrome(browser: str, *args: str) -> str:
    cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=3000", *args]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    assert res.returncode == 0, res.stderr[-2000:]
    return res.stdout


def _png(path) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(3, 2))
    ax.plot(np.arange(10) ** 2)
    fig.savefig(path)
    plt.close(fig)
    return str(path)


def _doc(tmp_path) -> dict:
    return {
        "xylodeploy_version": "test", "chip": "xylo-audio3", "seconds": 12.0,
        "summary": {"float_test_accuracy": 0.9123, "deployed_test_accuracy": 0.8765, "deployed_on": "reference",
                    "delta_pp": -3.58, "bit_exact_reference_xylosim_exact": True},
        "validation": {"stages": {"float": {"accuracy": 0.9123, "n_clips": 40, "seconds": 1.0}},
                       "pairs": [{"a": "exact", "b": "reference", "prediction_agreement": 1.0, "bit_exact": True}]},
        "stages": [{"name": "extract", "seconds": 0.1, "settings": {"model": "SynNet"}}],
        "quantization": {"weight_shift": {"in": 2}, "layers": [{"population": "hidden0", "role": "hidden",
                         "n_weights": 4321}], "time_constants": {"dt": 0.001, "rows": [{"population": "hidden0",
                         "field": "tau_mem", "count": 7}]}},
        "resources": [{"resource": "hidden neurons", "used": 77, "available": 992, "percent": 7.76}],
        "metrics": {"effective_synops": 98765.0, "firing_rate_hz": {"hidden": 12.5}},
        "energy": {"lines": ["estimated energy per inference: 4.56 µJ"]},
        "files": {"weights": _png(tmp_path / "weights.png"), "resources": _png(tmp_path / "resources.png")},
    }  # fmt: skip


def test_report_renders_with_all_images_and_key_numbers(tmp_path):
    browser = _browser()
    page = write_html(_doc(tmp_path), tmp_path / "report.html")
    (tmp_path / "weights.png").unlink()  # self-contained: the page must not need the files any more
    dom = _chrome(browser, "--dump-dom", page.as_uri())
    assert re.search(r'data-broken-images="0"', dom), dom[:500]
    assert dom.count("<img") == 2
    keys = ("Xylo Audio 3", "SYNS65302", "91.23 %", "87.65 %", "-3.58 pp", "4321", "98,765", "12.5", "77", "4.56 µJ")
    for text in keys:
        assert text in dom, text
    shot = tmp_path / "shot.png"
    _chrome(browser, f"--screenshot={shot}", "--window-size=1000,1400", page.as_uri())
    import matplotlib.image as mpimg

    assert mpimg.imread(shot).std() > 0.01  # something was drawn


def test_the_browser_check_detects_a_missing_image(tmp_path):
    """Negative control: an image that cannot be decoded is counted."""
    browser = _browser()
    page = write_html(_doc(tmp_path), tmp_path / "report.html")
    text = page.read_text().replace("data:image/png;base64,", "data:image/png;base64,AAAA", 1)
    page.write_text(text)
    assert 'data-broken-images="1"' in _chrome(browser, "--dump-dom", page.as_uri())
