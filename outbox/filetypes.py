"""Which uploaded files Flurfunk keeps, what they really are, and how /media serves them.

Only types on a fixed list are kept, and what a file is comes from its bytes alone (its
leading bytes; for ZIP and OLE containers, the names of the parts inside), never from its
name: a program renamed to `.pdf` or declared as `video/mp4` is refused, and a spreadsheet
sent as `application/octet-stream` is a spreadsheet. The declared type only picks audio or
video for a container that holds either. A stored file's extension is chosen from its verified
type, and /media answers with the type that extension maps to here: an upload can never be
served as HTML or script (markup is refused even when declared as plain text).
"""

from __future__ import annotations

import csv
import struct
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO

from models.settings import Settings
from outbox.images import IMAGE_FORMATS

INVALID_TYPE = "Validation failed: File content type is invalid"


class FileTypeError(ValueError):
    """The upload is not of a type we keep, or its bytes contradict its type."""


@dataclass(frozen=True)
class FileKind:
    mime: str  # canonical type, also what /media serves the file as
    type: str  # Mastodon's attachment type: video, audio or unknown
    ext: str
    looks_right: Callable[[bytes], bool]


def _prefix(*magic: bytes) -> Callable[[bytes], bool]:
    return lambda head: head.startswith(magic)


def _iso_media(head: bytes) -> bool:
    """MP4, QuickTime, M4A and 3GP: an ISO base media box comes first."""
    return head[4:8] in (b"ftyp", b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot")


def _riff(form: bytes) -> Callable[[bytes], bool]:
    return lambda head: head[:4] == b"RIFF" and head[8:12] == form


def _mpeg_audio(head: bytes) -> bool:
    return head[:3] == b"ID3" or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0)


def _adts(head: bytes) -> bool:
    return len(head) > 1 and head[0] == 0xFF and head[1] & 0xF6 == 0xF0


def _pdf(head: bytes) -> bool:
    return b"%PDF-" in head[:1024]


def _text(head: bytes) -> bool:
    return b"\x00" not in head


_EBML = _prefix(b"\x1a\x45\xdf\xa3")  # WebM / Matroska
_OGG = _prefix(b"OggS")
_ZIP = _prefix(b"PK\x03\x04", b"PK\x05\x06")  # also docx, xlsx, odt, …
_OLE = _prefix(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1")  # legacy doc, xls, ppt
_OOXML = "application/vnd.openxmlformats-officedocument."
_ODF = "application/vnd.oasis.opendocument."

KINDS = {
    kind.mime: kind
    for kind in (
        FileKind("video/mp4", "video", "mp4", _iso_media),
        FileKind("video/quicktime", "video", "mov", _iso_media),
        FileKind("video/webm", "video", "webm", _EBML),
        FileKind("video/ogg", "video", "ogv", _OGG),
        FileKind("audio/mpeg", "audio", "mp3", _mpeg_audio),
        FileKind("audio/ogg", "audio", "ogg", _OGG),
        FileKind("audio/wav", "audio", "wav", _riff(b"WAVE")),
        FileKind("audio/flac", "audio", "flac", _prefix(b"fLaC")),
        FileKind("audio/aac", "audio", "aac", _adts),
        FileKind("audio/mp4", "audio", "m4a", _iso_media),
        FileKind("audio/webm", "audio", "weba", _EBML),
        FileKind("audio/3gpp", "audio", "3gp", _iso_media),
        FileKind("application/pdf", "unknown", "pdf", _pdf),
        FileKind("application/msword", "unknown", "doc", _OLE),
        FileKind("application/vnd.ms-excel", "unknown", "xls", _OLE),
        FileKind("application/vnd.ms-powerpoint", "unknown", "ppt", _OLE),
        FileKind(_OOXML + "wordprocessingml.document", "unknown", "docx", _ZIP),
        FileKind(_OOXML + "spreadsheetml.sheet", "unknown", "xlsx", _ZIP),
        FileKind(_OOXML + "presentationml.presentation", "unknown", "pptx", _ZIP),
        FileKind(_ODF + "text", "unknown", "odt", _ZIP),
        FileKind(_ODF + "spreadsheet", "unknown", "ods", _ZIP),
        FileKind(_ODF + "presentation", "unknown", "odp", _ZIP),
        FileKind(_ODF + "graphics", "unknown", "odg", _ZIP),
        FileKind("text/plain", "unknown", "txt", _text),
        FileKind("text/csv", "unknown", "csv", _text),
        FileKind("application/zip", "unknown", "zip", _ZIP),
    )
}
# Other names clients use for the same types.
ALIASES = {
    "audio/mp3": "audio/mpeg",
    "audio/vorbis": "audio/ogg",
    "audio/opus": "audio/ogg",
    "audio/wave": "audio/wav",
    "audio/x-wav": "audio/wav",
    "audio/vnd.wave": "audio/wav",
    "audio/x-flac": "audio/flac",
    "audio/m4a": "audio/mp4",
    "audio/x-m4a": "audio/mp4",
    "video/x-m4v": "video/mp4",
    "application/x-zip-compressed": "application/zip",
    "image/jpg": "image/jpeg",
}
IMAGE_TYPES = {mime: ext for mime, ext in IMAGE_FORMATS.values()}
# Extension -> the type /media serves it as; anything else is served as a download.
SERVED_TYPES = {
    **{kind.ext: kind.mime for kind in KINDS.values()},
    **{ext: mime for mime, ext in IMAGE_TYPES.items()},
    "jpeg": "image/jpeg",
    "oga": "audio/ogg",
    "opus": "audio/ogg",
    "m4v": "video/mp4",
}
SUPPORTED_MIME_TYPES = sorted({*IMAGE_TYPES, "image/heic", "image/heif", *KINDS, *ALIASES})
# What FLURFUNK_MEDIA_TYPES may name: the canonical types recognised from content.
KNOWN_TYPES = frozenset({*IMAGE_TYPES, "image/heic", *KINDS})
HEAD_SIZE = 8192


def supported_types(settings: Settings) -> list[str]:
    """What the instance endpoint tells apps they may upload (aliases of allowed types too)."""
    if not settings.media_types:
        return SUPPORTED_MIME_TYPES
    kept = set(settings.media_types)
    if "image/heic" in kept:
        kept.add("image/heif")
    return sorted(kept | {alias for alias, mime in ALIASES.items() if mime in kept})


def served_type(filename: str) -> str:
    ext = filename.rpartition(".")[2].lower() if "." in filename else ""
    mime = SERVED_TYPES.get(ext, "application/octet-stream")
    return mime + "; charset=utf-8" if mime.startswith("text/") else mime


def _canonical(declared: str) -> str:
    mime = declared.split(";")[0].strip().lower()
    return ALIASES.get(mime, mime)


HEIF_BRANDS = (b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1")


def image_type(head: bytes) -> str | None:
    """The image type the leading bytes prove, or None; HEIC/HEIF is what phones take."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[4:8] == b"ftyp" and head[8:12] in HEIF_BRANDS:
        return "image/heic"
    return None


def is_image(head: bytes, declared: str = "", filename: str = "") -> bool:
    """Recognised by content alone; a declared image type that the bytes do not bear out is
    also treated as an image, so that decoding refuses it with the right message."""
    del filename  # never trusted: a name says nothing about what a file is
    return image_type(head) is not None or _canonical(declared).startswith("image/")


_MARKUP = (b"<!doctype", b"<html", b"<svg", b"<script", b"<?xml", b"<head", b"<body", b"<iframe")


def _plain_text(head: bytes) -> bool:
    """Text a person wrote (UTF-8 or a legacy 8-bit code page), not markup a browser runs."""
    if b"\x00" in head:
        return False
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return not start.startswith(_MARKUP)


def _csv(head: bytes) -> bool:
    """Rows of the same number of fields (at least two) split by one delimiter."""
    lines = [line for line in head.decode("utf-8", "replace").splitlines()[:20] if line.strip()]
    if len(lines) > 1 and len(head) >= HEAD_SIZE:
        lines = lines[:-1]  # the last line may be cut off
    if len(lines) < 2:
        return False
    for delimiter in (",", ";", "\t"):
        counts = {len(next(csv.reader([line], delimiter=delimiter))) for line in lines}
        if len(counts) == 1 and counts.pop() > 1:
            return True
    return False


def _zip_kind(whole: BinaryIO | None, head: bytes) -> str:
    """An OpenDocument names its type in its first member; Office Open XML by its parts."""
    if head[30:38] == b"mimetype" and len(head) >= 30:
        # The first member, stored uncompressed: its bytes follow the local header.
        size, name_length, extra_length = struct.unpack("<I2H", head[22:30])
        start = 30 + name_length + extra_length
        named = head[start : start + min(size, 100)].decode("ascii", "replace")
        if named.startswith(_ODF) and named in KINDS:
            return named
    names: list[str] = []
    if whole is not None:
        try:
            whole.seek(0)
            names = zipfile.ZipFile(whole).namelist()
        except (zipfile.BadZipFile, OSError, ValueError, EOFError):
            raise FileTypeError(INVALID_TYPE) from None
        finally:
            whole.seek(0)
    parts = set(names)
    for part, mime in (
        ("word/document.xml", _OOXML + "wordprocessingml.document"),
        ("xl/workbook.xml", _OOXML + "spreadsheetml.sheet"),
        ("ppt/presentation.xml", _OOXML + "presentationml.presentation"),
    ):
        if part in parts or part.encode() in head:
            return mime
    return "application/zip"


def _ole_kind(whole: BinaryIO | None, head: bytes) -> str:
    """Legacy Office files: the name of their main stream (UTF-16) says which program."""
    data = head
    if whole is not None:
        whole.seek(0)
        data = whole.read()
        whole.seek(0)
    for stream, mime in (
        ("WordDocument", "application/msword"),
        ("Workbook", "application/vnd.ms-excel"),
        ("Book", "application/vnd.ms-excel"),
        ("PowerPoint Document", "application/vnd.ms-powerpoint"),
    ):
        if stream.encode("utf-16-le") in data:
            return mime
    raise FileTypeError(INVALID_TYPE)


def _iso_kind(head: bytes, declared: str) -> str:
    brand = head[8:12]
    if brand == b"qt  ":
        return "video/quicktime"
    if brand in (b"M4A ", b"M4B "):
        return "audio/mp4"
    # The container carries either; only then does the declared type choose.
    if declared in ("audio/mp4", "audio/3gpp"):
        return declared
    return "video/mp4"


def sniff(head: bytes, declared: str = "", whole: BinaryIO | None = None) -> FileKind:
    """The kind of a file that is not an image, decided from its bytes (`whole`, when given,
    is read for containers whose type sits deeper than the first bytes: ZIP and OLE). The
    declared type only chooses between audio and video in a container that carries both."""
    said = _canonical(declared)
    mime: str | None = None
    if _ZIP(head):
        mime = _zip_kind(whole, head)
    elif _OLE(head):
        mime = _ole_kind(whole, head)
    elif _pdf(head):
        mime = "application/pdf"
    elif _iso_media(head):
        mime = _iso_kind(head, said)
    elif _EBML(head):
        mime = "audio/webm" if said == "audio/webm" else "video/webm"
    elif _OGG(head):
        mime = "video/ogg" if said == "video/ogg" else "audio/ogg"
    elif _riff(b"WAVE")(head):
        mime = "audio/wav"
    elif head.startswith(b"fLaC"):
        mime = "audio/flac"
    elif _adts(head):
        mime = "audio/aac"
    elif _mpeg_audio(head):
        mime = "audio/mpeg"
    elif _plain_text(head):
        mime = "text/csv" if _csv(head) else "text/plain"
    if mime is None or mime not in KINDS:
        raise FileTypeError(INVALID_TYPE)
    return KINDS[mime]


def sniff_kind(head: bytes) -> str:
    """Mastodon's attachment type as far as the first bytes tell (which size limit applies)."""
    try:
        return sniff(head).type
    except FileTypeError:
        return "unknown"


def identify(head: bytes, declared: str, filename: str = "") -> FileKind:
    """The kind of a non-image file from its leading bytes (remote copies: see sniff)."""
    del filename
    return sniff(head, declared)
