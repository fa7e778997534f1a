"""Images for custom emoji tests, made with Pillow: small valid ones and the hostile kinds."""

from __future__ import annotations

import io
import os
from pathlib import Path

from PIL import Image


def png(color: str = "orange", size: int = 32) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGBA", (size, size), color).save(buffer, "PNG")
    return buffer.getvalue()


def animated_gif(frames: int = 3) -> bytes:
    images = [Image.new("RGB", (16, 16), c) for c in ("red", "green", "blue")[:frames]]
    buffer = io.BytesIO()
    images[0].save(buffer, "GIF", save_all=True, append_images=images[1:], duration=100, loop=0)
    return buffer.getvalue()


def jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), "blue").save(buffer, "JPEG")
    return buffer.getvalue()


def noise_png(edge: int = 400) -> bytes:
    """A PNG that does not compress: well over 256 KB."""
    buffer = io.BytesIO()
    Image.frombytes("RGB", (edge, edge), os.urandom(edge * edge * 3)).save(buffer, "PNG")
    return buffer.getvalue()


def huge_canvas_png() -> bytes:
    """Few bytes, many pixels (4000 x 4000)."""
    buffer = io.BytesIO()
    Image.new("L", (4000, 4000), 0).save(buffer, "PNG")
    return buffer.getvalue()


def write(folder: Path, name: str, data: bytes) -> str:
    path = folder / name
    path.write_bytes(data)
    return str(path)
