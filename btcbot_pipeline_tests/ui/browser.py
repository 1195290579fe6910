"""The browser side of the Dagster UI browser tests: the system Chromium driven by
Playwright, and the UI gestures the tests repeat.

Playwright launches the Chromium found on PATH (``executable_path``: never a browser it
downloads), headless, through a proxy that goes nowhere, so pages reach 127.0.0.1 only.
Dagster's "join the community" dialog of a first visit is skipped once, up front
(:meth:`UI.skip_community_dialog`). Each page opens in a fresh browser context, closed
after use; a page a test gave up on is saved as ``FAILED-<page>.png``. Every wait is
bounded and a failure shows the page's text.
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Locator, Page

PAGE_TIMEOUT_S = 45.0  # a page shows what the test waits for
LAUNCH_TIMEOUT_S = 30.0  # the launch dialog's toast after its button
NUX_TIMEOUT_S = 30.0  # the community dialog shown on a first visit, and its Skip recorded

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    # Any host but 127.0.0.1 (which Chromium never proxies) goes to a closed local port.
    "--proxy-server=http://127.0.0.1:9",
]
NO_BROWSER = (
    "the Dagster UI browser tests need Chromium on PATH ({names}) and the playwright package "
    "(pip install -e .[dev]; Debian: apt-get install chromium); {missing}"
)


# --- skip or fail ----------------------------------------------------------------------


def find_chromium() -> str | None:
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


def require_browser() -> str:
    """The Chromium to drive: skipped without one (or without playwright), failed instead
    when ``BTCBOT_REQUIRE_BROWSER=1`` (CI)."""
    missing = []
    chromium = find_chromium()
    if chromium is None:
        missing.append("no Chromium binary found")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("playwright is not installed")
    if missing:
        reason = NO_BROWSER.format(names=", ".join(CHROMIUM_NAMES), missing="; ".join(missing))
        if os.environ.get("BTCBOT_REQUIRE_BROWSER") == "1":
            pytest.fail(f"BTCBOT_REQUIRE_BROWSER=1 but {reason}")
        pytest.skip(reason)
    assert chromium is not None
    return chromium


# --- the browser ------------------------------------------------------------------------


@contextmanager
def chromium(executable: str) -> Iterator[Browser]:
    """The system Chromium, headless, driven by Playwright; closed (with Playwright's driver) on exit."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS, timeout=60_000)
        try:
            yield browser
        finally:
            browser.close()


def _should_show_nux(url: str) -> bool:
    response = httpx.post(f"{url}/graphql", json={"query": "query { shouldShowNux }"}, timeout=30)
    response.raise_for_status()
    return bool(response.json()["data"]["shouldShowNux"])


def page_text(page: Page) -> str:
    """The page's visible text, spaces collapsed."""
    return re.sub(r"\s+", " ", page.inner_text("body").replace("\u200b", " ")).strip()


class UI:
    """Pages of the Dagster UI at ``url`` in fresh browser contexts; screenshots in ``shots``."""

    def __init__(self, browser: Browser, url: str, shots: Path) -> None:
        self.browser, self.url, self.shots = browser, url, shots

    @contextmanager
    def page(
        self,
        path: str,
        *,
        width: int = 1600,
        height: int = 1000,
        scale: int = 1,
        skip_nux: bool = True,
    ) -> Iterator[Page]:
        context = self.browser.new_context(
            base_url=self.url,
            viewport={"width": width, "height": height},
            device_scale_factor=scale,
            timezone_id="UTC",
            locale="en-US",
        )
        try:
            page = context.new_page()
            page.set_default_timeout(PAGE_TIMEOUT_S * 1000)
            # Should Dagster's "join the community" dialog show anyway (skip_community_dialog
            # skips it first), Skip is clicked before the page's next action.
            if skip_nux:
                page.add_locator_handler(
                    page.get_by_text("Join the Dagster community"),
                    lambda: page.get_by_role("button", name="Skip").click(),
                )
            page.goto(path)
            try:
                yield page
            except BaseException:
                self.shot(page, f"FAILED-{re.sub(r'[^A-Za-z0-9]+', '_', path).strip('_')[:60]}.png")
                raise
        finally:
            context.close()

    def skip_community_dialog(self) -> None:
        """Skip Dagster's "join the community" dialog once, as a person does on a first visit.

        It opens a second after the first page loads, over whatever the test is doing (a
        launch dialog, say), until Skip records it in ``DAGSTER_HOME``: so it is skipped
        first, and the server is read until it says so. (The pages' handler stays, in case.)
        """
        if not _should_show_nux(self.url):
            return
        with self.page("/overview", skip_nux=False) as page:
            page.get_by_role("button", name="Skip").click(timeout=NUX_TIMEOUT_S * 1000)
            deadline = time.monotonic() + NUX_TIMEOUT_S
            while _should_show_nux(self.url):
                if time.monotonic() > deadline:
                    pytest.fail(f"Skip on the community dialog was not recorded within {NUX_TIMEOUT_S:.0f} s")
                page.wait_for_timeout(250)

    def shot(self, page: Page, name: str, full_page: bool = False) -> Path:
        path = self.shots / name
        try:
            page.screenshot(path=str(path), full_page=full_page)
        except Exception as exc:  # a screenshot must never hide the real failure
            print(f"screenshot {name} failed: {exc}", file=sys.stderr)
        return path

    def poll_text(
        self,
        page: Page,
        *wanted: str | re.Pattern[str],
        timeout_s: float = PAGE_TIMEOUT_S,
    ) -> tuple[list[str], str]:
        """What of ``wanted`` the page still does not show after at most ``timeout_s`` (none
        once it shows every fragment or matches every pattern), and its text then."""
        deadline = time.monotonic() + timeout_s
        while True:
            text = page_text(page)
            missing = [w for w in wanted if (w.search(text) is None if isinstance(w, re.Pattern) else w not in text)]
            if not missing or time.monotonic() > deadline:
                return [w.pattern if isinstance(w, re.Pattern) else w for w in missing], text
            page.wait_for_timeout(250)

    def wait_text(self, page: Page, *wanted: str | re.Pattern[str], timeout_s: float = PAGE_TIMEOUT_S) -> str:
        """The page's text once it shows every fragment (or matches every pattern)."""
        missing, text = self.poll_text(page, *wanted, timeout_s=timeout_s)
        if missing:
            pytest.fail(f"{page.url} does not show {missing} after {timeout_s:.0f} s; it shows:\n{text[:4000]}")
        return text


# --- the launch dialog ------------------------------------------------------------------


def launch_dialog(page: Page) -> Locator:
    """The partition dialog of *Materialize all…* / *Materialize…* (the only modal titled so)."""
    dialog = page.get_by_role("dialog").filter(has_text="Launch runs to materialize")
    dialog.wait_for()
    return dialog


def _open_selector(page: Page, dialog: Locator) -> Locator:
    dialog.get_by_text(re.compile(r"^Select a partition")).click()
    search = page.get_by_placeholder("Filter partitions")
    search.wait_for()
    return search


def select_matching(page: Page, dialog: Locator, typed: str, expected: int) -> None:
    """Custom selection: type ``typed`` in the partition selector's filter and tick
    *Select all (n)*: every key that contains it."""
    from playwright.sync_api import expect

    _open_selector(page, dialog).fill(typed)
    select_all = page.get_by_text(re.compile(r"^Select all \(\d+\)$"))
    expect(select_all, f"typing {typed!r} in the partition filter").to_have_text(f"Select all ({expected})")
    select_all.click()
    page.keyboard.press("Escape")  # closes the selector, not the dialog


def select_keys(page: Page, dialog: Locator, keys: Sequence[str]) -> None:
    """Custom selection: each key found with the selector's filter and ticked."""
    search = _open_selector(page, dialog)
    for key in keys:
        search.fill(key)
        page.locator("label").filter(has_text=key).first.click()
    page.keyboard.press("Escape")


def _toast(page: Page, pattern: str, what: str) -> re.Match[str]:
    deadline = time.monotonic() + LAUNCH_TIMEOUT_S
    text = ""
    while time.monotonic() < deadline:
        text = page_text(page)
        match = re.search(pattern, text)
        if match:
            return match
        page.wait_for_timeout(250)
    pytest.fail(
        f"{what}: no confirmation ({pattern!r}) within {LAUNCH_TIMEOUT_S:.0f} s; the page shows:\n{text[:4000]}"
    )


def launch_backfill(page: Page, dialog: Locator) -> str:
    """Click *Launch backfill*; the id from the UI's "Created backfill <id>" toast."""
    dialog.get_by_role("button", name="Launch backfill").click()
    return _toast(page, r"Created backfill ([a-z0-9]+)", "Launch backfill").group(1)


def launch_run(page: Page, dialog: Locator) -> str:
    """Click *Launch 1 run*; the run id from the UI's "Launched run <id>" toast and its link."""
    dialog.get_by_role("button", name="Launch 1 run").click()
    short = _toast(page, r"Launched run ([0-9a-f]{8})", "Launch 1 run").group(1)
    hrefs = page.locator(f'a[href*="/runs/{short}"]').evaluate_all("els => els.map(e => e.getAttribute('href'))")
    ids = {m.group(1) for h in hrefs if (m := re.search(r"/runs/([0-9a-f-]{36})", h or ""))}
    assert len(ids) == 1, f"run link of toast {short}: {hrefs}"
    return ids.pop()


# --- plots --------------------------------------------------------------------------------

# The data each Plots chart was drawn from, as React handed it to Chart.js (react-chartjs-2's
# <Line data>): the canvas's React fiber, up to the component whose props hold `datasets`.
CHART_DATA_JS = """(canvas) => {
  const key = Object.keys(canvas).find(k => k.startsWith('__reactFiber$'));
  for (let f = key ? canvas[key] : null; f; f = f.return) {
    const d = f.memoizedProps && f.memoizedProps.data;
    if (d && Array.isArray(d.datasets)) {
      return {labels: d.labels || [], datasets: d.datasets.map(s => ({label: s.label, data: s.data}))};
    }
  }
  return null;
}"""
# Pixels of a line or point in the chart's accent blue (not the grid's greys, not white).
CHART_INK_JS = """(canvas) => {
  const px = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  let n = 0;
  for (let i = 0; i < px.length; i += 4) {
    if (px[i + 3] > 128 && px[i + 2] > 150 && px[i + 2] - px[i] > 60 && px[i + 2] - px[i + 1] > 60) n++;
  }
  return n;
}"""


@dataclass(frozen=True)
class Chart:
    label: str
    points: dict[str, float | None]  # partition key → value drawn (None: no point)
    ink: int  # accent-coloured pixels on its canvas


def charts(page: Page) -> dict[str, Chart]:
    """Every chart of the page's Plots view, by metadata label."""
    out = {}
    for canvas in page.locator("canvas").all():
        data = canvas.evaluate(CHART_DATA_JS)
        if not data or not data["datasets"]:
            continue
        labels = data["labels"]
        for dataset in data["datasets"]:
            points = {}
            for point in dataset["data"]:
                key = (
                    labels[point["x"]] if isinstance(point["x"], int) and point["x"] < len(labels) else str(point["x"])
                )
                y = point.get("y")
                points[key] = None if y is None or y != y else float(y)  # NaN: no point
            out[dataset["label"]] = Chart(dataset["label"], points, canvas.evaluate(CHART_INK_JS))
    return out


# --- files --------------------------------------------------------------------------------


def png_size(path: Path) -> tuple[int, int]:
    """Width and height of a PNG (its signature and IHDR checked)."""
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR", f"{path} is not a PNG"
    return struct.unpack(">II", head[16:24])


def value_after(text: str, key: str) -> str:
    """The first number among the few words after a metadata key (its row: key, time, value)."""
    match = re.search(rf"(?<![\w.]){re.escape(key)} ((?:\S+ ){{0,8}})", text + " ")
    assert match, f"{key!r} not on the page"
    for token in match.group(1).split():
        if re.fullmatch(r"-?\d+(?:\.\d+)?", token):
            return token
    raise AssertionError(f"no number after {key!r}: {match.group(0)!r}")
