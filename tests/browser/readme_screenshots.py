"""The README's screenshots of the composer and the hub's inbox, made small from the browser tests'
own (run tests/browser/test_composer.py and test_hub_pages.py first, then `python -m
tests.browser.readme_screenshots`): 960 pixels wide, 128 colours, committed in docs/screenshots/."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from tests.browser.artifacts import ARTIFACTS

DOCS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
WIDTH = 960
# artifact → README file, and how much of the page's top to keep (None: all of it)
CHOSEN: dict[str, tuple[str, int | None]] = {
    "composer-fr-previews": ("composer-fr-previews", None),
    "composer-ar-previews": ("composer-ar-rtl", None),
    "composer-fr-waiting-for-hub": ("composer-fr-waiting-for-hub", 1480),  # the banner and the post
    "hub-inbox-list-fr": ("hub-inbox-fr", 620),  # the filters and the conversations
    "hub-inbox-conversation-ar": ("hub-inbox-conversation-ar", 760),
}


def shrink(source: Path, target: Path, top: int | None) -> None:
    with Image.open(source) as opened:
        image = opened.convert("RGB")
    if top is not None:
        image = image.crop((0, 0, image.width, min(top, image.height)))
    image = image.resize((WIDTH, round(image.height * WIDTH / image.width)), Image.Resampling.LANCZOS)
    small = image.quantize(colors=128, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    small.save(target, optimize=True)


def main() -> None:
    DOCS.mkdir(parents=True, exist_ok=True)
    for artifact, (name, top) in CHOSEN.items():
        target = DOCS / f"{name}.png"
        shrink(ARTIFACTS / f"{artifact}.png", target, top)
        print(f"{target.relative_to(DOCS.parents[1])} {target.stat().st_size // 1024} KiB")


if __name__ == "__main__":
    main()
