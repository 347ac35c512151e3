"""The offline sketch renderer: a deterministic scene card drawn with Pillow.

No GPU, no server: the palette comes from the location, the time of day and the mood, a few
pencil-like shapes suggest the place and the partner (sized by the framing), and a caption names
the location, the time and the key tags. It is clearly labelled a sketch. The same inputs (and
seed) always give the same pixels.
"""

from __future__ import annotations

import hashlib
import random
from typing import Any

Color = tuple[int, int, int]

SKIES: dict[str, tuple[Color, Color]] = {
    "dawn": ((250, 200, 170), (150, 180, 220)),
    "morning": ((200, 225, 245), (150, 200, 240)),
    "noon": ((130, 190, 245), (200, 230, 250)),
    "day": ((130, 190, 245), (200, 230, 250)),
    "afternoon": ((150, 195, 235), (240, 225, 190)),
    "dusk": ((80, 60, 120), (245, 150, 90)),
    "sunset": ((90, 60, 120), (250, 140, 80)),
    "evening": ((50, 50, 100), (200, 110, 90)),
    "night": ((10, 14, 40), (40, 50, 90)),
    "midnight": ((5, 8, 25), (25, 30, 60)),
}
MOODS: dict[str, Color] = {
    "happy": (250, 205, 60),
    "playful": (255, 150, 190),
    "curious": (70, 200, 190),
    "shy": (240, 160, 170),
    "nervous": (190, 190, 120),
    "sad": (90, 120, 200),
    "angry": (220, 60, 50),
    "annoyed": (200, 110, 60),
    "surprised": (250, 170, 60),
    "thoughtful": (150, 130, 200),
    "affectionate": (240, 100, 140),
    "worried": (140, 150, 170),
    "excited": (255, 120, 40),
    "tired": (130, 130, 150),
    "determined": (200, 80, 60),
}
INDOOR = (
    "room",
    "library",
    "archive",
    "office",
    "cafe",
    "café",
    "shop",
    "hall",
    "kitchen",
    "bar",
    "study",
    "cabin",
    "cottage",
    "station",
    "lab",
    "bedroom",
    "inside",
    "bridge",
)
GROUNDS: dict[tuple[str, ...], Color] = {
    ("sea", "harbor", "harbour", "pier", "beach", "shore", "lake", "river", "dock"): (50, 90, 130),
    ("forest", "garden", "park", "meadow", "field", "woods"): (60, 110, 60),
    ("street", "city", "alley", "square", "road", "market"): (95, 95, 105),
    ("desert", "dune", "sand"): (210, 180, 120),
    ("snow", "ice", "mountain"): (225, 230, 240),
}
SKETCH_SIZE = (768, 512)


def _hash_color(text: str, lightness: int = 160) -> Color:
    digest = hashlib.sha256(text.encode()).digest()
    return tuple(lightness // 2 + b % (lightness // 2 + 40) for b in digest[:3])  # type: ignore[return-value]


def _mix(a: Color, b: Color, t: float) -> Color:
    return tuple(int(x + (y - x) * t) for x, y in zip(a, b, strict=True))  # type: ignore[return-value]


def sky_colors(time: str) -> tuple[Color, Color]:
    t = time.lower()
    for word, colors in SKIES.items():
        if word in t:
            return colors
    base = _hash_color(t or "time")
    return base, _mix(base, (255, 255, 255), 0.4)


def ground_color(location: str) -> Color:
    loc = location.lower()
    for words, color in GROUNDS.items():
        if any(w in loc for w in words):
            return color
    return _hash_color(loc or "place", 120)


def is_indoor(location: str) -> bool:
    loc = location.lower()
    return any(w in loc for w in INDOOR)


def _pencil_line(
    draw: Any, rng: random.Random, points: list[tuple[float, float]], color: Color, width: int = 2
) -> None:
    """A line drawn twice with a small jitter, like a pencil stroke."""
    for _ in range(2):
        jittered = [(x + rng.uniform(-1.5, 1.5), y + rng.uniform(-1.5, 1.5)) for x, y in points]
        draw.line(jittered, fill=color, width=width, joint="curve")


def _figure(
    draw: Any, rng: random.Random, w: int, h: int, framing: str, accent: Color, ink: Color
) -> None:
    scale = {
        "close-up": 0.75,
        "portrait": 0.7,
        "upper body": 0.62,
        "full body": 0.45,
        "wide shot": 0.28,
        "scenery": 0.0,
    }.get(framing, 0.6)
    if scale <= 0:
        return
    cx = w * rng.uniform(0.42, 0.58)
    base = h * 0.86
    head_r = min(h, w * 1.2) * 0.09 * scale
    body_h = h * 0.55 * scale
    head_y = base - body_h - head_r * 1.4
    draw.ellipse(
        (cx - head_r * 2.2, head_y - head_r * 2.2, cx + head_r * 2.2, head_y + head_r * 2.2),
        outline=accent,
        width=3,
    )  # mood aura
    draw.ellipse(
        (cx - head_r, head_y - head_r, cx + head_r, head_y + head_r), fill=_mix(ink, accent, 0.25)
    )
    shoulders = head_r * 2.4
    body = [
        (cx - head_r * 0.5, head_y + head_r),
        (cx + head_r * 0.5, head_y + head_r),
        (cx + shoulders, head_y + head_r * 2.2),
        (cx + shoulders * 0.9, base),
        (cx - shoulders * 0.9, base),
        (cx - shoulders, head_y + head_r * 2.2),
    ]
    draw.polygon(body, fill=_mix(ink, accent, 0.25))
    _pencil_line(draw, rng, [*body, body[0]], accent, 2)


def _outdoor(
    draw: Any,
    rng: random.Random,
    w: int,
    h: int,
    sky: tuple[Color, Color],
    ground: Color,
    ink: Color,
) -> None:
    horizon = h * rng.uniform(0.55, 0.65)
    night = sum(sky[0]) < 250
    body = (235, 235, 210) if night else (255, 235, 150)
    sx, sy, sr = w * rng.uniform(0.1, 0.9), h * rng.uniform(0.1, 0.3), h * 0.06
    draw.ellipse((sx - sr, sy - sr, sx + sr, sy + sr), fill=body)
    if night:
        for _ in range(40):
            x, y = rng.uniform(0, w), rng.uniform(0, horizon * 0.9)
            draw.point((x, y), fill=(240, 240, 255))
    ridge = [(0.0, horizon)]
    for i in range(1, 9):
        ridge.append((w * i / 8, horizon - rng.uniform(0, h * 0.12)))
    draw.polygon([*ridge, (w, h), (0, h)], fill=ground)
    _pencil_line(draw, rng, ridge, ink, 2)
    for _ in range(rng.randint(2, 5)):
        x, y = rng.uniform(0, w), rng.uniform(horizon, h * 0.95)
        size = rng.uniform(10, 30) * (y / h)
        _pencil_line(draw, rng, [(x - size, y), (x, y - size * 2), (x + size, y)], ink, 2)


def _indoor(
    draw: Any,
    rng: random.Random,
    w: int,
    h: int,
    wall: Color,
    floor: Color,
    sky: tuple[Color, Color],
    ink: Color,
) -> None:
    floor_y = h * rng.uniform(0.68, 0.76)
    draw.rectangle((0, floor_y, w, h), fill=floor)
    _pencil_line(draw, rng, [(0, floor_y), (w, floor_y)], ink, 2)
    wx, wy = w * rng.uniform(0.06, 0.6), h * rng.uniform(0.1, 0.2)
    ww, wh = w * 0.28, h * 0.32
    draw.rectangle((wx, wy, wx + ww, wy + wh), fill=sky[0])
    _pencil_line(
        draw, rng, [(wx, wy), (wx + ww, wy), (wx + ww, wy + wh), (wx, wy + wh), (wx, wy)], ink, 3
    )
    _pencil_line(draw, rng, [(wx + ww / 2, wy), (wx + ww / 2, wy + wh)], ink, 2)
    for i in range(rng.randint(2, 4)):  # shelves or furniture lines
        y = h * (0.2 + 0.14 * i)
        x0 = w * rng.uniform(0.68, 0.75)
        _pencil_line(draw, rng, [(x0, y), (w * 0.97, y)], ink, 2)
    lx, ly = w * rng.uniform(0.1, 0.9), h * 0.08
    draw.ellipse((lx - 14, ly, lx + 14, ly + 28), fill=(255, 225, 150))


def render(spec: dict[str, Any]) -> Any:
    """Draw the scene card described by `spec` (see images.request.build_request)."""
    from PIL import Image, ImageDraw, ImageFont

    w, h = spec.get("size") or SKETCH_SIZE
    rng = random.Random(int(spec.get("seed", 0)))
    location, time = str(spec.get("location") or "somewhere"), str(spec.get("time") or "")
    sky = sky_colors(time)
    ground = ground_color(location)
    accent = MOODS.get(str(spec.get("mood")), _hash_color(str(spec.get("mood"))))
    ink = (35, 35, 45)
    image = Image.new("RGB", (w, h), sky[0])
    draw = ImageDraw.Draw(image)
    indoor = is_indoor(location)
    top, bottom = (
        (_mix(ground, (240, 230, 210), 0.5), _mix(ground, (200, 190, 170), 0.3)) if indoor else sky
    )
    for y in range(h):
        draw.line([(0, y), (w, y)], fill=_mix(top, bottom, y / h))
    if indoor:
        _indoor(draw, rng, w, h, top, _mix(ground, ink, 0.3), sky, ink)
    else:
        _outdoor(draw, rng, w, h, sky, ground, ink)
    for _ in range(60):  # hatching
        x, y = rng.uniform(0, w), rng.uniform(h * 0.5, h)
        draw.line([(x, y), (x + 8, y - 8)], fill=_mix(ground, ink, 0.5), width=1)
    _figure(draw, rng, w, h, str(spec.get("framing", "")), accent, ink)

    band = int(h * 0.16)
    overlay = Image.new("RGBA", (w, band), (15, 15, 20, 190))
    image.paste(overlay, (0, h - band), overlay)
    big = ImageFont.load_default(size=max(14, h // 22))
    small = ImageFont.load_default(size=max(11, h // 36))
    title = " · ".join(x for x in (location, time) if x)
    draw.text((16, h - band + 8), _fit(draw, title, big, w - 32), font=big, fill=(245, 245, 245))
    tags = [str(t) for t in spec.get("scene_tags") or []][:6]
    line = ", ".join(tags) or str(spec.get("prompt", ""))[:80]
    who = str(spec.get("partner") or "")
    mood = str(spec.get("mood") or "")
    detail = " · ".join(x for x in (f"{who}, {mood}" if who else mood, line) if x)
    draw.text(
        (16, h - band + 14 + big.size),
        _fit(draw, detail, small, w - 32),
        font=small,
        fill=(210, 210, 210),
    )
    draw.rectangle((10, 10, 110, 36), fill=(250, 250, 245), outline=ink, width=2)
    draw.text((20, 14), "SKETCH", font=small, fill=ink)
    label = f"seed {spec.get('seed')}"
    draw.text((w - 16 - draw.textlength(label, font=small), 16), label, font=small, fill=ink)
    return image


def _fit(draw: Any, text: str, font: Any, width: float) -> str:
    """`text`, cut with an ellipsis so that it fits `width` pixels."""
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text + "…", font=font) > width:
        text = text[:-1]
    return text.rstrip() + "…"
