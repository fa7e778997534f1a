"""Which uploaded files Flurfunk keeps, what they really are, and how /media serves them.

Only types on a fixed list are kept, and each is checked against its leading bytes, so a
program renamed to `.pdf` or declared as `video/mp4` is refused. A stored file's extension is
chosen from its verified type, never taken from the uploader, and /media answers with the type
that extension maps to here: an upload can never be served as HTML or script.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

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
SUPPORTED_MIME_TYPES = sorted({*IMAGE_TYPES, *KINDS, *ALIASES})
_IMAGE_MAGIC = _prefix(b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"GIF87a", b"GIF89a")


def served_type(filename: str) -> str:
    ext = filename.rpartition(".")[2].lower() if "." in filename else ""
    mime = SERVED_TYPES.get(ext, "application/octet-stream")
    return mime + "; charset=utf-8" if mime.startswith("text/") else mime


def _canonical(declared: str, filename: str) -> str:
    mime = declared.split(";")[0].strip().lower()
    if mime in ("", "application/octet-stream", "binary/octet-stream"):
        mime = SERVED_TYPES.get(filename.rpartition(".")[2].lower() if "." in filename else "", "")
    return ALIASES.get(mime, mime)


def is_image(head: bytes, declared: str, filename: str) -> bool:
    """Images are recognised by content first: a PNG sent as `application/pdf` is a PNG."""
    webp = head[:4] == b"RIFF" and head[8:12] == b"WEBP"
    return _IMAGE_MAGIC(head) or webp or _canonical(declared, filename).startswith("image/")


def identify(head: bytes, declared: str, filename: str) -> FileKind:
    """The kind of a non-image upload, or FileTypeError if it is not on the list or lies."""
    kind = KINDS.get(_canonical(declared, filename))
    if kind is None or not kind.looks_right(head):
        raise FileTypeError(INVALID_TYPE)
    return kind
