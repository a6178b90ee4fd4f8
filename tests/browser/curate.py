"""The user guide's pictures: a curated set of the browser tests' screenshots, made small for the repository.

``make screenshots`` runs the browser tests (which save every page under ``test-artifacts/screenshots``)
and then this module, which writes the pages the user guide shows to ``docs/images``: 1024 pixels wide,
at most 1400 high (the top of a long page), in 128 colours. ``--check`` only says whether each source is
there.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "test-artifacts" / "screenshots"
IMAGES = ROOT / "docs" / "images"
WIDTH, MAX_HEIGHT, COLOURS = 1024, 1400, 128

# screenshot of the browser tests -> picture of the user guide
CURATED = {
    "login": "innlogging",
    "kommune-forside": "kommune-forside",
    "kommune-lists": "kommune-fordelingslister",
    "kommune-bosettingsdato-avvist": "kommune-bosettingsdato-avvist",
    "kommune-bosettingsdato-registrert": "kommune-bosettingsdato-registrert",
    "kommune-capacity": "kommune-kapasitet",
    "kommune-reports": "kommune-rapporter",
    "kommune-sak-avvist": "kommune-sak-avvist",
    "imdi-ny-fordelingsliste": "imdi-ny-fordelingsliste",
    "imdi-persons": "imdi-personer",
    "imdi-imports": "imdi-importer",
    "imdi-rapporter-komplett": "imdi-datagrunnlag-komplett",
    "revisor-hendelseslogg-sok": "revisor-hendelseslogg",
}


def curate(source: Path, target: Path) -> int:
    """One picture: scaled to WIDTH, cut at MAX_HEIGHT, in COLOURS colours; returns its size in bytes."""
    with Image.open(source) as shot:
        picture = shot.convert("RGB")
    if picture.width > WIDTH:
        picture = picture.resize(
            (WIDTH, round(picture.height * WIDTH / picture.width)), Image.Resampling.LANCZOS
        )
    if picture.height > MAX_HEIGHT:
        picture = picture.crop((0, 0, picture.width, MAX_HEIGHT))
    small = picture.quantize(colors=COLOURS, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    small.save(target, optimize=True)
    return target.stat().st_size


def main(argv: list[str]) -> int:
    missing = [name for name in CURATED if not (SHOTS / f"{name}.png").exists()]
    if missing:
        print(f"missing screenshots (run the browser tests first): {', '.join(missing)}", file=sys.stderr)
        return 1
    if "--check" in argv:
        return 0
    IMAGES.mkdir(parents=True, exist_ok=True)
    total = 0
    for name, picture in CURATED.items():
        total += curate(SHOTS / f"{name}.png", IMAGES / f"{picture}.png")
    print(f"{len(CURATED)} pictures in {IMAGES.relative_to(ROOT)}, {total / 1024:.0f} KiB")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
