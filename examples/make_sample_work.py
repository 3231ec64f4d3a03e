"""Draws the sample work in examples/sample-work/: four small comic pages and their manifest.

Run once with `python examples/make_sample_work.py`; the output is committed, so this only
needs re-running when the drawings change.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

WIDTH, HEIGHT = 800, 1200
MARGIN, GUTTER, BORDER = 30, 20, 6
INK = (20, 20, 28)
PAPER = (250, 246, 236)
NIGHT = (28, 36, 74)
SEA = (36, 82, 120)
FOAM = (210, 230, 240)
BEAM = (255, 226, 120)
DAWN = (246, 170, 120)
OUT = Path(__file__).parent / "sample-work"

Box = tuple[int, int, int, int]


def font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    # Pillow's bundled font: the same drawing on every machine, no system fonts needed.
    return ImageFont.load_default(size=size)


def panel(draw: ImageDraw.ImageDraw, box: Box, fill: tuple[int, int, int]) -> None:
    draw.rectangle(box, fill=fill, outline=INK, width=BORDER)


def stars(draw: ImageDraw.ImageDraw, box: Box, count: int, seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(count):
        x = rng.randint(box[0] + 15, box[2] - 15)
        y = rng.randint(box[1] + 15, box[1] + (box[3] - box[1]) // 2)
        draw.ellipse((x - 2, y - 2, x + 2, y + 2), fill=(240, 240, 255))


def sea(draw: ImageDraw.ImageDraw, box: Box, level: int) -> None:
    draw.rectangle((box[0] + BORDER, level, box[2] - BORDER, box[3] - BORDER), fill=SEA)
    for row, y in enumerate(range(level + 20, box[3] - 10, 36)):
        for x in range(box[0] + 20 + (row % 2) * 30, box[2] - 40, 60):
            draw.arc((x, y, x + 40, y + 16), 200, 340, fill=FOAM, width=3)


def lighthouse(draw: ImageDraw.ImageDraw, x: int, base: int, height: int, lit: bool) -> None:
    half_base, half_top = height // 7, height // 11
    top = base - height
    draw.polygon(
        [(x - half_base, base), (x + half_base, base), (x + half_top, top), (x - half_top, top)],
        fill=PAPER,
        outline=INK,
        width=4,
    )
    for band in range(1, 4):
        y = base - band * height // 4
        draw.rectangle((x - half_base + 4, y - 14, x + half_base - 4, y + 14), fill=(190, 40, 40))
    lamp = (x - half_top - 6, top - 40, x + half_top + 6, top)
    draw.rectangle(lamp, fill=BEAM if lit else (90, 90, 100), outline=INK, width=4)
    draw.polygon([(lamp[0] - 8, lamp[1]), (x, lamp[1] - 30), (lamp[2] + 8, lamp[1])], fill=INK)


def beam(draw: ImageDraw.ImageDraw, x: int, y: int, to_x: int, spread: int) -> None:
    draw.polygon([(x, y), (to_x, y - spread), (to_x, y + spread)], fill=BEAM)


def boat(draw: ImageDraw.ImageDraw, x: int, y: int) -> None:
    draw.polygon([(x - 70, y), (x + 70, y), (x + 45, y + 30), (x - 45, y + 30)], fill=(120, 70, 40))
    draw.line((x, y, x, y - 110), fill=INK, width=5)
    draw.polygon([(x + 4, y - 105), (x + 4, y - 10), (x + 70, y - 10)], fill=PAPER, outline=INK)


def keeper(draw: ImageDraw.ImageDraw, x: int, y: int) -> None:
    draw.ellipse((x - 60, y - 60, x + 60, y + 60), fill=(240, 200, 170), outline=INK, width=4)
    draw.rectangle((x - 70, y - 70, x + 70, y - 40), fill=(40, 50, 90), outline=INK, width=3)
    draw.ellipse((x - 30, y - 10, x - 14, y + 6), fill=INK)
    draw.ellipse((x + 14, y - 10, x + 30, y + 6), fill=INK)
    draw.arc((x - 28, y + 12, x + 28, y + 40), 200, 340, fill=INK, width=4)
    draw.rectangle((x - 70, y + 60, x + 70, y + 160), fill=(200, 170, 40), outline=INK, width=4)


def bubble(draw: ImageDraw.ImageDraw, x: int, y: int, text: str, tail: tuple[int, int]) -> None:
    face = font(30)
    left, top, right, bottom = draw.textbbox((x, y), text, font=face)
    box = (left - 20, top - 16, right + 20, bottom + 16)
    draw.polygon(
        [
            ((box[0] + box[2]) // 2 - 14, box[3] - 4),
            tail,
            ((box[0] + box[2]) // 2 + 14, box[3] - 4),
        ],
        fill=PAPER,
        outline=INK,
    )
    draw.rounded_rectangle(box, radius=22, fill=PAPER, outline=INK, width=3)
    draw.text((x, y), text, font=face, fill=INK)


def caption(draw: ImageDraw.ImageDraw, x: int, y: int, text: str) -> None:
    face = font(26)
    left, top, right, bottom = draw.textbbox((x, y), text, font=face)
    draw.rectangle(
        (left - 12, top - 10, right + 12, bottom + 10), fill=(255, 240, 160), outline=INK, width=3
    )
    draw.text((x, y), text, font=face, fill=INK)


def page_one() -> Image.Image:
    image = Image.new("RGB", (WIDTH, HEIGHT), PAPER)
    draw = ImageDraw.Draw(image)
    title = (MARGIN, MARGIN, WIDTH - MARGIN, 260)
    panel(draw, title, PAPER)
    draw.text((WIDTH // 2, 120), "THE LIGHTHOUSE", font=font(72), fill=INK, anchor="mm")
    draw.text((WIDTH // 2, 200), "Issue 1: The Long Night", font=font(32), fill=INK, anchor="mm")
    scene = (MARGIN, 260 + GUTTER, WIDTH - MARGIN, HEIGHT - MARGIN)
    panel(draw, scene, NIGHT)
    stars(draw, scene, 40, seed=1)
    sea(draw, scene, 900)
    beam(draw, 400, 470, WIDTH - MARGIN - BORDER, 70)
    lighthouse(draw, 400, 920, 420, lit=True)
    caption(draw, 70, 320, "On the last rock before the open sea...")
    return image


def page_two() -> Image.Image:
    image = Image.new("RGB", (WIDTH, HEIGHT), PAPER)
    draw = ImageDraw.Draw(image)
    top = (MARGIN, MARGIN, WIDTH - MARGIN, 560)
    panel(draw, top, (70, 80, 110))
    sea(draw, top, 380)
    boat(draw, 520, 400)
    caption(draw, 60, 70, "A fishing boat, far from home.")
    left = (MARGIN, 560 + GUTTER, WIDTH // 2 - GUTTER // 2, HEIGHT - MARGIN)
    panel(draw, left, (230, 220, 200))
    keeper(draw, (left[0] + left[2]) // 2, 900)
    bubble(draw, 60, 650, "Storm's coming.", (200, 820))
    right = (WIDTH // 2 + GUTTER // 2, 560 + GUTTER, WIDTH - MARGIN, HEIGHT - MARGIN)
    panel(draw, right, NIGHT)
    stars(draw, right, 12, seed=2)
    sea(draw, right, 1000)
    lighthouse(draw, (right[0] + right[2]) // 2, 1020, 300, lit=False)
    return image


def page_three() -> Image.Image:
    image = Image.new("RGB", (WIDTH, HEIGHT), PAPER)
    draw = ImageDraw.Draw(image)
    rows = [(MARGIN, 390), (390 + GUTTER, 790), (790 + GUTTER, HEIGHT - MARGIN)]
    first = (MARGIN, rows[0][0], WIDTH - MARGIN, rows[0][1])
    panel(draw, first, (60, 60, 70))
    lighthouse(draw, 520, rows[0][1] - BORDER, 260, lit=True)
    bubble(draw, 80, 110, "Light it. Now!", (330, 230))
    second = (MARGIN, rows[1][0], WIDTH - MARGIN, rows[1][1])
    panel(draw, second, NIGHT)
    beam(draw, MARGIN + BORDER, 600, WIDTH - MARGIN - BORDER, 120)
    sea(draw, second, 680)
    third = (MARGIN, rows[2][0], WIDTH - MARGIN, rows[2][1])
    panel(draw, third, (70, 80, 110))
    sea(draw, third, 1000)
    boat(draw, 300, 1020)
    bubble(draw, 420, 860, "There! The light!", (360, 940))
    return image


def page_four() -> Image.Image:
    image = Image.new("RGB", (WIDTH, HEIGHT), PAPER)
    draw = ImageDraw.Draw(image)
    scene = (MARGIN, MARGIN, WIDTH - MARGIN, HEIGHT - 260)
    panel(draw, scene, DAWN)
    draw.ellipse((470, 600, 650, 780), fill=(255, 210, 90))
    sea(draw, scene, 700)
    lighthouse(draw, 220, 760, 420, lit=False)
    boat(draw, 560, 800)
    end = (MARGIN, HEIGHT - 260 + GUTTER, WIDTH - MARGIN, HEIGHT - MARGIN)
    panel(draw, end, PAPER)
    draw.text((WIDTH // 2, (end[1] + end[3]) // 2), "THE END", font=font(64), fill=INK, anchor="mm")
    return image


def main() -> None:
    pages = {
        "pages/01.png": page_one,
        "pages/02.png": page_two,
        "pages/03.png": page_three,
        "pages/04.jpg": page_four,
    }
    (OUT / "pages").mkdir(parents=True, exist_ok=True)
    for name, draw_page in pages.items():
        with draw_page() as image:
            if name.endswith(".png"):
                # A palette keeps the flat-colour art small enough to commit.
                with image.quantize(colors=32) as small:
                    small.save(OUT / name, format="PNG", optimize=True)
            else:
                image.save(OUT / name, format="JPEG", quality=80, optimize=True)
    manifest = {"name": "The Lighthouse", "sub_name": "Issue 1", "pages": list(pages)}
    (OUT / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
