"""Crop the asset graph screenshot of the UI browser tests into the README's lineage image.

    .venv/bin/python scripts/readme_lineage.py SCREENSHOTS/lineage.png docs/lineage.png

(``bash scripts/ui_screenshots.sh --update-docs`` runs the tests, then this.) The tests
(``btcbot_pipeline_tests/ui``) render the ``cycle`` group's lineage after a backfill
launched from the UI, at twice the pixels (4000 × 1600, a 2000 × 800 window); this keeps
the nodes and their edges (the bounding box of every non-background pixel right of the
navigation and below the toolbar), scaled to 1800 px wide, as an optimised PNG.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image

SCALE = 2  # device pixels per CSS pixel of the test's screenshot
CANVAS = (200, 170, 1950, 800)  # CSS px: right of the navigation, below the toolbar, left of the zoom controls
INK = 200  # a pixel darker than this (grey level) is a node, an edge or text; the dotted grid is lighter
PAD = 24
WIDTH = 1800


def crop_lineage(source: Path, target: Path) -> tuple[int, int]:
    image = Image.open(source).convert("RGB")
    region = tuple(v * SCALE for v in CANVAS)
    ink = image.crop(region).convert("L").point(lambda v: 255 if v < INK else 0).getbbox()
    if ink is None:
        raise SystemExit(f"{source}: no graph found in the canvas area")
    left, top = region[0] + ink[0] - PAD, region[1] + ink[1] - PAD
    right, bottom = region[0] + ink[2] + PAD, region[1] + ink[3] + PAD
    graph = image.crop((left, top, right, bottom))
    if graph.width > WIDTH:
        graph = graph.resize((WIDTH, round(graph.height * WIDTH / graph.width)), Image.LANCZOS)
    target.parent.mkdir(parents=True, exist_ok=True)
    graph.save(target, optimize=True)
    return graph.size


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: readme_lineage.py SCREENSHOTS/lineage.png docs/lineage.png", file=sys.stderr)
        return 2
    width, height = crop_lineage(Path(argv[0]), Path(argv[1]))
    print(f"wrote {argv[1]} ({width} × {height}, {Path(argv[1]).stat().st_size // 1024} KB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
