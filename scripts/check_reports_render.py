#!/usr/bin/env python3
"""Open every HTML report of an output directory in headless Chromium and check that its images render.

For each ``*.html`` at the top of OUTPUT_DIR, a copy with a small probe script is loaded by Chromium
(``--dump-dom``); once the page has loaded, the probe records how many <img> elements the browser decoded
(complete, with a natural width > 0) and the page's size. A screenshot of each report is written to
SCREENSHOT_DIR when given. Then every figure in OUTPUT_DIR/figures and OUTPUT_DIR/sub-*/figures (the recording
figures): each PNG needs its SVG beside it, and every SVG is loaded by Chromium (as images of one probe page) and
must render. Exits 1 naming the report or figure when one has no image, an image that did not render, or a
figure without its SVG.

    python scripts/check_reports_render.py OUTPUT_DIR [--screenshots SCREENSHOT_DIR]

Needs Chromium (Debian: apt-get install -y --no-install-recommends chromium), or set CHROMIUM.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

PROBE = """<script>
window.addEventListener("load", () => {
  const images = Array.from(document.images);
  const rendered = images.filter((i) => i.complete && i.naturalWidth > 0).length;
  document.body.setAttribute("data-render-check",
    rendered + "/" + images.length + "/" + document.body.scrollWidth + "x" + document.body.scrollHeight);
});
</script>
"""
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
         "--virtual-time-budget=10000"]


def chromium() -> str:
    found = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        sys.exit("check_reports_render.py: Chromium not found: apt-get install -y --no-install-recommends chromium")
    return found


def check(report: Path, *, browser: str, screenshot: Path | None) -> str:
    with tempfile.TemporaryDirectory() as profile, tempfile.TemporaryDirectory() as pages:
        probe = Path(pages) / report.name
        probe.write_text(report.read_text().replace("</body>", PROBE + "</body>", 1))
        done = subprocess.run([browser, *FLAGS, f"--user-data-dir={profile}", "--dump-dom", probe.as_uri()],
                              capture_output=True, text=True, timeout=120, check=False)
        found = re.search(r'data-render-check="(\d+)/(\d+)/(\d+)x(\d+)"', done.stdout)
        if not found:
            raise SystemExit(f"{report}: Chromium did not render the page (exit {done.returncode}): "
                             + done.stderr.strip().splitlines()[-1:][0] if done.stderr.strip() else "no output")
        rendered, images, width, height = map(int, found.groups())
        if images == 0 or rendered != images:
            raise SystemExit(f"{report}: {rendered} of {images} images rendered")
        if screenshot is not None:
            subprocess.run([browser, *FLAGS, f"--user-data-dir={profile}", f"--window-size=1200,{min(height, 16000)}",
                            f"--screenshot={screenshot}", report.resolve().as_uri()],
                           capture_output=True, timeout=120, check=True)
    return f"{report.name}: {rendered}/{images} images rendered, page {width}x{height} px"


def check_figures(figures: Path, *, browser: str, label: str = "figures") -> str:
    """Every PNG of ``figures`` has its SVG, and every SVG renders in Chromium."""
    pngs = sorted(figures.glob("*.png"))
    missing = [p.name for p in pngs if not p.with_suffix(".svg").is_file()]
    if missing:
        raise SystemExit(f"{figures}: no SVG beside {', '.join(missing)}")
    svgs = sorted(figures.glob("*.svg"))
    if not svgs:
        return f"{figures}: no figure"
    with tempfile.TemporaryDirectory() as pages:
        page = Path(pages) / "figures.html"
        page.write_text("<!DOCTYPE html><html><body>" + "".join(f'<img src="{svg.resolve().as_uri()}">' for svg in svgs)
                        + "</body></html>")
        try:
            result = check(page, browser=browser, screenshot=None)
        except SystemExit as exc:
            raise SystemExit(f"{figures}: SVG figures: {str(exc).split(': ', 1)[-1]}") from None
    return f"{label}/: {len(svgs)} SVG figures ({result.split(': ', 1)[1].split(',')[0]}), each beside its PNG"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output_dir", type=Path)
    parser.add_argument("--screenshots", type=Path, metavar="DIR", help="write a PNG screenshot of each report here")
    args = parser.parse_args()
    reports = sorted(args.output_dir.glob("*.html"))
    if not reports:
        sys.exit(f"check_reports_render.py: no *.html report in {args.output_dir}")
    browser = chromium()
    if args.screenshots:
        args.screenshots.mkdir(parents=True, exist_ok=True)
    for report in reports:
        shot = args.screenshots / f"{report.stem}.png" if args.screenshots else None
        print(check(report, browser=browser, screenshot=shot))
    for figures in sorted([args.output_dir / "figures", *args.output_dir.glob("sub-*/figures")]):
        if figures.is_dir():  # the group figures, and each participant's recording figures
            print(check_figures(figures, browser=browser, label=str(figures.relative_to(args.output_dir))))
    print(f"all {len(reports)} reports render their images")


if __name__ == "__main__":
    main()
