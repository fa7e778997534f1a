"""Emoji images: checked by content (never by file name), stored as `emoji/…` in the media area
of outbox.storage (DATA_DIR/media/emoji, or the S3 bucket).

An emoji image is a PNG, GIF or WebP of at most `MAX_BYTES`, `MAX_EDGE` pixels a side and
`MAX_PIXELS` over all its frames. It is decoded completely, so a file that only starts like an
image is refused, and kept as sent (an animation stays animated); an animated one also gets a
still copy of its first frame, for `static_url`. File names are random and new for every
image, so that they can be cached for good.

Everything here is CPU-bound and synchronous; callers run it in a worker thread. Pillow is
imported where it is used.
"""

from __future__ import annotations

import io
import secrets
from dataclasses import dataclass

from models.settings import Settings
from outbox import storage
from outbox.images import decode_errors

KiB = 1024
MAX_BYTES = 256 * KiB  # as Mastodon
MAX_EDGE = 1024
MAX_PIXELS = 16 * 1024 * 1024  # width x height x frames
MAX_FRAMES = 1000  # tiny frames by the thousand cost decoding time, not pixels
FORMATS = {"PNG": ("image/png", "png"), "GIF": ("image/gif", "gif"), "WEBP": ("image/webp", "webp")}
FOLDER = "emoji"


class EmojiImageError(ValueError):
    """Why an image cannot be an emoji; fit to show to the admin."""


@dataclass(frozen=True)
class EmojiImage:
    mime: str
    ext: str
    data: bytes
    still: bytes | None  # the first frame as PNG, for an animation


def check(data: bytes) -> EmojiImage:
    """Verify that `data` is an emoji image we take."""
    from PIL import Image

    if not data:
        raise EmojiImageError("the file is empty")
    if len(data) > MAX_BYTES:
        raise EmojiImageError(f"the file is larger than {MAX_BYTES // KiB} KB")
    unreadable = EmojiImageError("the file is not a PNG, GIF or WebP image")
    try:
        image = Image.open(io.BytesIO(data))
    except decode_errors():
        raise unreadable from None
    if image.format not in FORMATS:
        raise unreadable
    width, height = image.size
    if not (0 < width <= MAX_EDGE and 0 < height <= MAX_EDGE):
        raise EmojiImageError(
            f"the image is {width}x{height} pixels, at most {MAX_EDGE}x{MAX_EDGE} are taken"
        )
    try:
        frames = getattr(image, "n_frames", 1)
        if frames > MAX_FRAMES or width * height * frames > MAX_PIXELS:
            raise EmojiImageError(f"the animation has too many frames ({frames})")
        for frame in range(frames):
            image.seek(frame)
            image.load()
        still = _first_frame(image) if frames > 1 else None
    except decode_errors():
        raise unreadable from None
    mime, ext = FORMATS[image.format]
    return EmojiImage(mime, ext, data, still)


def _first_frame(image: object) -> bytes:
    from PIL import Image

    assert isinstance(image, Image.Image)
    image.seek(0)
    buffer = io.BytesIO()
    image.convert("RGBA").save(buffer, "PNG")
    return buffer.getvalue()


def store(settings: Settings, image: EmojiImage, shortcode: str) -> tuple[str, str]:
    """Write the files; (image path, still image path), relative to the emoji folder."""
    files = storage.media(settings)
    name = f"{shortcode}-{secrets.token_hex(8)}"
    path = f"{name}.{image.ext}"
    files.put(f"{FOLDER}/{path}", image.data)
    still = path
    if image.still is not None:
        still = f"{name}-static.png"
        files.put(f"{FOLDER}/{still}", image.still)
    return path, still


def remove(settings: Settings, *paths: str | None) -> None:
    """Drop stored files (never anything outside the emoji folder)."""
    files = storage.media(settings)
    for relative in paths:
        if relative and "/" not in relative and storage.valid_key(relative):
            files.delete(f"{FOLDER}/{relative}")
