"""Record docs/playground.gif: the point editor in use, in headless Chromium on a real server.

Clicks add two points in the gap, a point is dragged (live mode: preview, then the fit), and Play
cycles the posterior draws. Each frame is a screenshot of the editor; Pillow joins them into a GIF.
A maintainer's script, not a test:

    .venv/bin/python scripts/record_playground.py [--out docs/playground.gif]
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))

import stdriver  # noqa: E402
from PIL import Image  # noqa: E402  (Pillow comes with Streamlit)
from playwright.sync_api import Page, sync_playwright  # noqa: E402

WIDTH = 560  # px of the GIF


class Recorder:
    def __init__(self, page: Page) -> None:
        self.page, self.frames, self.durations = page, [], []

    def shot(self, ms: int = 120) -> None:
        png = self.page.locator(stdriver.EDITOR).screenshot(animations="allow")
        image = Image.open(io.BytesIO(png)).convert("RGB")
        image = image.resize((WIDTH, round(image.height * WIDTH / image.width)), Image.LANCZOS)
        self.frames.append(image)
        self.durations.append(ms)

    def settle(self, frames: int = 6, ms: int = 150) -> None:
        """Frames while the page reruns (preview, then the fit), until it is done."""
        for _ in range(frames):
            self.page.wait_for_timeout(ms)
            self.shot(ms)
        stdriver.wait_for_run(self.page, settle_ms=0)
        self.shot(900)

    def save(self, path: Path) -> None:
        palette = [f.quantize(colors=96, method=Image.Quantize.MEDIANCUT) for f in self.frames]
        palette[0].save(path, save_all=True, append_images=palette[1:], duration=self.durations, loop=0,
                        optimize=True)


def record(url: str, out: Path) -> None:
    with sync_playwright() as pw:
        browser = stdriver.launch_chromium(pw, stdriver.chromium_path())
        page = stdriver.new_context(browser).new_page()
        page.set_viewport_size({"width": 1400, "height": 1000})
        stdriver.open_app(page, url, timeout_ms=120_000)
        rec = Recorder(page)
        rec.shot(1200)
        for x, y in ((0.0, 2.0), (-0.45, 3.2)):  # two points between the middle ones
            [(px, py)] = stdriver.to_pixels(page, (x, y))
            page.mouse.click(px, py)
            rec.settle()
        (ax, ay), (bx, by) = stdriver.to_pixels(page, (1.8, 0.2224), (3.2, 1.5))  # drag a point outwards
        page.mouse.move(ax, ay)
        page.mouse.down()
        for k in range(1, 13):
            page.mouse.move(ax + (bx - ax) * k / 12, ay + (by - ay) * k / 12)
            page.wait_for_timeout(60)
            rec.shot(100)
        page.mouse.up()
        rec.settle()
        page.locator(f"{stdriver.EDITOR} .pe-play").click()
        for _ in range(24):
            page.wait_for_timeout(90)
            rec.shot(100)
        browser.close()
    rec.save(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "playground.gif")
    args = parser.parse_args(argv)
    if stdriver.chromium_path() is None:
        print("needs Debian's chromium", file=sys.stderr)
        return 2
    server = stdriver.start_server("app.py")
    try:
        record(server.url, args.out)
    finally:
        server.stop()
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
