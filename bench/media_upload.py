"""Upload to ready: a 5 MB JPEG and a 50-page PDF through POST /api/v2/media on one `flurfunk
serve` (SQLite), with the peak memory that each costs, next to the bare library work on the
same bytes in this process (the floor): Pillow's decode and re-encode of the JPEG, PDFium's
rendering of the PDF's first page.

Upload-to-ready is the wall-clock time from the start of the upload until the attachment is
usable: the 200 answer for the JPEG; for the PDF the 202 answer and then
GET /api/v1/media/:id every 50 ms until it answers 200 (the preview is rendered by the
background loop, which looks for work every second, in a child process). Peak memory: the
serve process's peak RSS (VmHWM, reset before each kind through /proc/PID/clear_refs) above
its RSS before, and the rendering child's peak RSS (measured by running the same child as the
node runs it). Both files are made by the benchmark.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from PIL import Image, ImageDraw

from outbox import media_processing, pdf_preview
from tests.kit import RunningNode, running_node

NOTE = [
    "One `flurfunk serve` (SQLite). *Ready* is from the start of the upload to a usable",
    "attachment: the 200 answer for the JPEG; for the PDF the 202 answer, then",
    "GET /api/v1/media/:id every 50 ms until 200 (the background loop looks for work every",
    "second and renders in a child process with limits). *Floor*: the same library work in",
    "this process on the same bytes (Pillow decode + re-encode of the JPEG; PDFium rendering",
    "of page one). *Serve peak*: the serve process's peak RSS above its RSS before (reset",
    "per kind); *child peak*: the PDF rendering process's peak RSS.",
]


def make_jpeg(target: int = 5 << 20) -> bytes:
    """A photo-like JPEG of about `target` bytes: noise does not compress."""
    rng = random.Random(5)
    width, height = 2400, 1800
    while True:
        noise = Image.frombytes("RGB", (width, height), rng.randbytes(width * height * 3))
        smooth = noise.resize((width // 4, height // 4)).resize((width, height))
        picture = Image.blend(noise, smooth, 0.5)
        buffer = io.BytesIO()
        picture.save(buffer, "JPEG", quality=92)
        if buffer.tell() >= target * 0.95:
            return buffer.getvalue()
        width, height = int(width * 1.1), int(height * 1.1)


def make_pdf(pages: int = 50) -> bytes:
    """A report of A4 pages at 100 dpi, each with text lines and a coloured chart."""
    images = []
    for number in range(pages):
        page = Image.new("RGB", (827, 1169), "white")
        draw = ImageDraw.Draw(page)
        draw.text((60, 50), f"Quartalsbericht - Seite {number + 1}", fill="black")
        for line in range(40):
            draw.text((60, 100 + line * 24), "Umsatz, Kosten und Ausblick " * 3, fill="black")
        draw.rectangle((500, 900, 760, 1100), fill=(30 + number * 4, 90, 160))
        images.append(page)
    buffer = io.BytesIO()
    images[0].save(buffer, "PDF", save_all=True, append_images=images[1:], resolution=100)
    return buffer.getvalue()


def _rss(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    return 0


def _reset_peak(pid: int) -> None:
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def _ready(node: RunningNode, token: str, data: bytes, name: str, mime: str) -> float:
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=node.url, headers=headers, timeout=120) as client:
        started = time.perf_counter()
        answer = client.post("/api/v2/media", files={"file": (name, data, mime)})
        answer.raise_for_status()
        media_id = answer.json()["id"]
        while answer.status_code != 200:
            time.sleep(0.05)
            answer = client.get(f"/api/v1/media/{media_id}")
            if answer.status_code not in (200, 206):
                raise RuntimeError(f"{name}: {answer.status_code} {answer.text[:200]}")
        elapsed = time.perf_counter() - started
        client.delete(f"/api/v1/media/{media_id}")
    return elapsed


def _floor_jpeg(data: bytes) -> float:
    started = time.perf_counter()
    image = Image.open(io.BytesIO(data))
    image.load()
    image.save(io.BytesIO(), "JPEG", quality=90)
    return time.perf_counter() - started


def _floor_pdf(path: Path) -> float:
    import pypdfium2 as pdfium  # type: ignore[import-untyped]

    started = time.perf_counter()
    page = pdfium.PdfDocument(str(path))[0]
    width, height = page.get_size()
    scale = min(pdf_preview.EDGE / width, pdf_preview.EDGE / height)
    page.render(scale=scale).to_pil().save(io.BytesIO(), "PNG")
    return time.perf_counter() - started


def _child_peak(path: Path) -> int:
    """Peak RSS of the rendering child, run as the node runs it (its own rusage, not that of
    every child this process ever had)."""
    with tempfile.TemporaryDirectory() as folder:
        child = subprocess.Popen(
            [
                sys.executable,
                "-m",
                pdf_preview.__name__,
                str(path),
                str(Path(folder) / "page.png"),
                str(media_processing.MEMORY_BYTES),
                str(media_processing.CPU_SECONDS),
            ]
        )
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise RuntimeError(f"the rendering child failed: {child.returncode}")
    return usage.ru_maxrss * 1024


def measure(rounds: int) -> list[str]:
    jpeg, document = make_jpeg(), make_pdf()
    rows = []
    with tempfile.TemporaryDirectory() as work, running_node(Path(work), "sqlite") as node:
        user = node.create_user("bench")
        pdf_path = Path(work) / "report.pdf"
        pdf_path.write_bytes(document)
        assert node.process is not None
        pid = node.process.pid
        _ready(node, user.token, jpeg, "warm.jpg", "image/jpeg")  # imports, first connection
        for label, data, name, mime, floor in (
            ("JPEG", jpeg, "photo.jpg", "image/jpeg", lambda: _floor_jpeg(jpeg)),
            (
                "PDF, 50 pages",
                document,
                "report.pdf",
                "application/pdf",
                lambda: _floor_pdf(pdf_path),
            ),
        ):
            base = _rss(pid, "VmRSS")
            _reset_peak(pid)
            times = [_ready(node, user.token, data, name, mime) for _ in range(rounds)]
            peak = _rss(pid, "VmHWM") - base
            floors = [floor() for _ in range(rounds)]
            child = _child_peak(pdf_path) if mime == "application/pdf" else 0
            rows.append((label, len(data), times, floors, peak, child))
    lines = [
        f"{rounds} uploads of each; load average after: {os.getloadavg()[0]:.1f}.",
        "",
        "| file | size | ready median (ms) | ready max (ms) | floor median (ms) | ratio "
        "| serve peak (MB) | child peak (MB) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for label, size, times, floors, peak, child in rows:
        ready, floor = statistics.median(times), statistics.median(floors)
        child_mb = f"{child / (1 << 20):.0f}" if child else "-"
        lines.append(
            f"| {label} | {size / (1 << 20):.1f} MB | {ready * 1000:.0f} "
            f"| {max(times) * 1000:.0f} | {floor * 1000:.0f} | {ready / floor:.1f} "
            f"| {peak / (1 << 20):.0f} | {child_mb} |"
        )
    return lines


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("media upload")
    group.add_argument("--upload-rounds", type=int, default=5)


def section(args: argparse.Namespace) -> list[str]:
    return measure(args.upload_rounds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    print("\n".join(section(parser.parse_args())))


if __name__ == "__main__":
    main()
