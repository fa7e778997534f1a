"""Uploaded images: verified by decoding, re-encoded without metadata, previewed, blurhashed.

Re-encoding is what strips EXIF (GPS positions, camera serials), XMP and comments: Pillow
writes only what it is told to, so the clean copy carries pixels, orientation already applied,
the colour profile and transparency. Everything here is CPU-bound and synchronous; callers run
it in a worker thread.

Pillow is imported where it is used: a process that never handles an image, such as a
worker, does not carry it.
"""

from __future__ import annotations

import functools
import io
import math
import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from PIL import Image

# Pillow format -> (MIME type, file extension)
IMAGE_FORMATS = {
    "JPEG": ("image/jpeg", "jpg"),
    "PNG": ("image/png", "png"),
    "GIF": ("image/gif", "gif"),
    "WEBP": ("image/webp", "webp"),
}
# Formats kept only as a JPEG copy: browsers other than Safari cannot show HEIC.
CONVERTED_FORMATS = {"HEIF": "JPEG"}
IMAGE_MATRIX_LIMIT = 33_177_600  # 7680 x 4320, as Mastodon
# An animation may hold 10 times that in all its frames together: re-encoding costs that.
PREVIEW_EDGE = 640
KEPT_INFO = ("icc_profile", "transparency")


@functools.cache
def decode_errors() -> tuple[type[Exception], ...]:
    """What a broken or hostile file makes Pillow raise while identifying or decoding it."""
    from PIL import Image

    return (OSError, SyntaxError, ValueError, EOFError, struct.error, Image.DecompressionBombError)


UNREADABLE_IMAGE = "Validation failed: File could not be read as an image"


class ImageError(ValueError):
    """The upload is not an image we accept; the message is fit for the client."""


@dataclass(frozen=True)
class CleanImage:
    mime: str
    ext: str
    data: bytes
    preview: bytes
    preview_ext: str
    meta: dict[str, Any]
    blurhash: str | None


def dimensions(width: int, height: int) -> dict[str, Any]:
    return {
        "width": width,
        "height": height,
        "size": f"{width}x{height}",
        "aspect": round(width / height, 6) if height else 1,
    }


@functools.cache
def _heif_opener() -> None:
    """Teach Pillow HEIC/HEIF (photos from phones), once per process."""
    from pillow_heif import register_heif_opener

    register_heif_opener()


def open_image(data: bytes, max_pixels: int = IMAGE_MATRIX_LIMIT) -> Image.Image:
    """Decode fully (a file that only looks like an image fails here), within size limits:
    the dimensions are checked from the header, before a pixel is decoded, so that a
    decompression bomb costs nothing."""
    from PIL import Image

    _heif_opener()
    unreadable = ImageError(UNREADABLE_IMAGE)
    try:
        image = Image.open(io.BytesIO(data))
    except decode_errors():
        raise unreadable from None
    if image.format not in IMAGE_FORMATS and image.format not in CONVERTED_FORMATS:
        raise ImageError("Validation failed: File content type is invalid")
    width, height = image.size
    if width * height > max_pixels:
        raise ImageError(
            f"Validation failed: Image dimensions {width}x{height} exceed the limit "
            f"of {max_pixels} pixels"
        )
    try:
        frames = getattr(image, "n_frames", 1)
        image.load()
    except decode_errors():
        raise unreadable from None
    if width * height * frames > 10 * max_pixels:
        raise ImageError(f"Validation failed: Animation with {frames} frames is too large")
    return image


def _still(image: Image.Image) -> Image.Image:
    """The first frame, turned upright, with only the harmless metadata left."""
    from PIL import ImageOps

    image.seek(0)
    upright = ImageOps.exif_transpose(image)
    assert upright is not None
    upright.info = {key: image.info[key] for key in KEPT_INFO if key in image.info}
    return upright


def _encode(image: Image.Image, fmt: str, **options: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def _reencode(image: Image.Image) -> bytes:
    fmt = CONVERTED_FORMATS.get(image.format or "", image.format or "PNG")
    if getattr(image, "is_animated", False):
        # Frames keep their timing; the metadata that may identify people does not survive.
        for key in ("exif", "xmp", "comment"):
            image.info.pop(key, None)
        return _encode(image, fmt, save_all=True)
    still = _still(image)
    icc = still.info.get("icc_profile")
    extra: dict[str, Any] = {"icc_profile": icc} if icc else {}
    if fmt in ("JPEG", "WEBP"):
        extra["quality"] = 90
    if fmt == "JPEG" and still.mode not in ("RGB", "L", "CMYK"):
        still = still.convert("RGB")
    return _encode(still, fmt, **extra)


def _preview(image: Image.Image) -> tuple[Image.Image, bytes, str]:
    from PIL import Image

    small = _still(image)
    small.thumbnail((PREVIEW_EDGE, PREVIEW_EDGE), Image.Resampling.LANCZOS)
    transparent = small.mode in ("RGBA", "LA", "PA") or "transparency" in small.info
    if transparent:
        small = small.convert("RGBA")
        return small, _encode(small, "PNG"), "png"
    small = small.convert("RGB")
    return small, _encode(small, "JPEG", quality=80), "jpg"


def clean_image(data: bytes, max_pixels: int = IMAGE_MATRIX_LIMIT) -> CleanImage:
    """Verify, strip and preview one uploaded image."""
    image = open_image(data, max_pixels)
    fmt = image.format or ""
    mime, ext = IMAGE_FORMATS[CONVERTED_FORMATS.get(fmt, fmt)]
    try:
        original = _reencode(image)
        small, preview, preview_ext = _preview(image)
        upright = _still(image).size
    except decode_errors():
        raise ImageError(UNREADABLE_IMAGE) from None
    meta = {"original": dimensions(*upright), "small": dimensions(*small.size)}
    return CleanImage(mime, ext, original, preview, preview_ext, meta, blurhash(small))


# --- blurhash (https://blurha.sh): the placeholder clients paint while an image loads -------

_BASE83 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz#$%*+,-.:;=?@[]^_{|}~"


def _base83(value: int, length: int) -> str:
    return "".join(_BASE83[(value // 83 ** (length - i)) % 83] for i in range(1, length + 1))


def _to_linear(value: int) -> float:
    v = value / 255
    return v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4


def _to_srgb(value: float) -> int:
    v = max(0.0, min(1.0, value))
    if v <= 0.0031308:
        return int(v * 12.92 * 255 + 0.5)
    return int((1.055 * v ** (1 / 2.4) - 0.055) * 255 + 0.5)


def _ac_code(factor: tuple[float, float, float], maximum: float) -> int:
    def quantise(v: float) -> int:
        scaled = math.copysign(abs(v / maximum) ** 0.5, v)
        return max(0, min(18, math.floor(scaled * 9 + 9.5)))

    r, g, b = factor
    return quantise(r) * 361 + quantise(g) * 19 + quantise(b)


def blurhash(image: Image.Image, x_components: int = 4, y_components: int = 3) -> str:
    from PIL import Image

    tiny = image.convert("RGB").resize((32, 32), Image.Resampling.BILINEAR)
    size = 32
    linear = [_to_linear(v) for v in range(256)]
    raw = tiny.tobytes()
    pixels = [
        (linear[raw[k]], linear[raw[k + 1]], linear[raw[k + 2]]) for k in range(0, len(raw), 3)
    ]
    factors: list[tuple[float, float, float]] = []
    for j in range(y_components):
        for i in range(x_components):
            norm = 1 if i == 0 and j == 0 else 2
            cos_x = [math.cos(math.pi * i * x / size) for x in range(size)]
            cos_y = [math.cos(math.pi * j * y / size) for y in range(size)]
            r = g = b = 0.0
            for index, (pr, pg, pb) in enumerate(pixels):
                basis = cos_x[index % size] * cos_y[index // size]
                r, g, b = r + basis * pr, g + basis * pg, b + basis * pb
            scale = norm / (size * size)
            factors.append((r * scale, g * scale, b * scale))
    dc, ac = factors[0], factors[1:]
    code = _base83((x_components - 1) + (y_components - 1) * 9, 1)
    actual_max = max((abs(v) for f in ac for v in f), default=0.0)
    quantised_max = max(0, min(82, math.floor(actual_max * 166 - 0.5)))
    maximum = (quantised_max + 1) / 166
    code += _base83(quantised_max, 1)
    code += _base83((_to_srgb(dc[0]) << 16) + (_to_srgb(dc[1]) << 8) + _to_srgb(dc[2]), 4)
    return code + "".join(_base83(_ac_code(f, maximum), 2) for f in ac)
