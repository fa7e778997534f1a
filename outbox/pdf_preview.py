"""Render the first page of a PDF to a PNG, in a process of its own: `python -m
outbox.pdf_preview SOURCE TARGET MEMORY_BYTES CPU_SECONDS`.

PDFs come from anyone on the node and pdfium is a large C library, so the rendering never
happens in a web process: this child limits its own address space and CPU time before it
loads pdfium, and the parent (outbox.media_processing) kills it after a wall-clock limit. A
PDF that crashes it, or runs it out of memory or time, costs only this process.

Exit codes: 0 rendered; 3 not a readable PDF; 4 readable but nothing to show (encrypted, no
pages); anything else (a signal, a limit) is the parent's to judge.
"""

from __future__ import annotations

import resource
import sys

EDGE = 1280  # longest side of the rendering; the preview is scaled down from it
UNREADABLE, NOTHING_TO_SHOW = 3, 4


def _limit(memory: int, cpu: int) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def render(source: str, target: str) -> int:
    import pypdfium2 as pdfium

    try:
        document = pdfium.PdfDocument(source)
    except pdfium.PdfiumError as exc:
        return NOTHING_TO_SHOW if "password" in str(exc).lower() else UNREADABLE
    if len(document) == 0:
        return NOTHING_TO_SHOW
    page = document[0]
    width, height = page.get_size()
    if width <= 0 or height <= 0:
        return UNREADABLE
    scale = min(EDGE / width, EDGE / height, 4.0)
    image = page.render(scale=scale, fill_color=(255, 255, 255, 255)).to_pil()
    image.convert("RGB").save(target, "PNG")
    return 0


def main(argv: list[str]) -> int:
    source, target, memory, cpu = argv[1], argv[2], int(argv[3]), int(argv[4])
    _limit(memory, cpu)
    return render(source, target)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
