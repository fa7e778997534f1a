"""What an upload is, from its bytes alone; and the MEDIA_* settings."""

from __future__ import annotations

import io
import zipfile

import pytest

from outbox.filetypes import FileTypeError, image_type, sniff
from web.config import ConfigError, load_settings


def _zip(*names: str, first: tuple[str, str] | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        if first is not None:
            archive.writestr(zipfile.ZipInfo(first[0]), first[1], compress_type=zipfile.ZIP_STORED)
        for name in names:
            archive.writestr(name, "<x/>" * 3000)  # past the first 8 KB
    return buffer.getvalue()


def _kind(data: bytes, declared: str = "application/octet-stream") -> str:
    return sniff(data[:8192], declared, io.BytesIO(data)).mime


def test_office_files_by_their_parts() -> None:
    assert _kind(_zip("[Content_Types].xml", "xl/workbook.xml")).endswith("spreadsheetml.sheet")
    assert _kind(_zip("docProps/app.xml", "ppt/presentation.xml")).endswith("presentation")
    odt = _zip("content.xml", first=("mimetype", "application/vnd.oasis.opendocument.text"))
    assert _kind(odt) == "application/vnd.oasis.opendocument.text"
    assert _kind(_zip("readme.txt")) == "application/zip"


def test_legacy_office_by_main_stream() -> None:
    ole = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600
    assert _kind(ole + "Workbook".encode("utf-16-le")) == "application/vnd.ms-excel"
    assert _kind(ole + "WordDocument".encode("utf-16-le")) == "application/msword"
    with pytest.raises(FileTypeError):
        _kind(ole)  # no stream we know: not kept


def test_declared_type_and_name_do_not_decide() -> None:
    assert _kind(b"%PDF-1.7\n...", "image/png") == "application/pdf"
    assert _kind(b"Name,Ort\nAda,Berlin\nGrace,Hamburg\n", "application/vnd.ms-excel") == "text/csv"
    assert _kind(b"Nur ein Satz, mit Komma.\nUnd noch einer.\n", "text/csv") == "text/plain"
    for markup in (b"<!DOCTYPE html><p>x", b"  <svg onload=alert(1)>", b"<?xml version='1.0'?>"):
        with pytest.raises(FileTypeError):
            _kind(markup, "text/plain")
    with pytest.raises(FileTypeError):
        _kind(b"MZ\x90\x00" + b"\x00" * 100, "application/pdf")


def test_containers_that_carry_audio_or_video() -> None:
    assert _kind(b"\x00\x00\x00\x18ftypisom" + b"\x00" * 8, "audio/mp4") == "audio/mp4"
    assert _kind(b"\x00\x00\x00\x18ftypisom" + b"\x00" * 8, "text/plain") == "video/mp4"
    assert _kind(b"\x00\x00\x00\x14ftypqt  " + b"\x00" * 8) == "video/quicktime"


def test_heic_is_an_image_by_its_brand() -> None:
    assert image_type(b"\x00\x00\x00\x18ftypheic" + b"\x00" * 8) == "image/heic"
    assert image_type(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 8) is None


def test_media_settings(tmp_path: object) -> None:
    env = {"FLURFUNK_DATA_DIR": str(tmp_path), "FLURFUNK_CONFIG": "/nonexistent.toml"}
    settings = load_settings(
        {
            **env,
            "FLURFUNK_MEDIA_TYPES": "image/png, application/pdf",
            "FLURFUNK_MEDIA_QUOTA_BYTES": "1000000",
            "FLURFUNK_MEDIA_MAX_BYTES_DOCUMENT": "5000",
        }
    )
    assert settings.media_types == ("image/png", "application/pdf")
    assert settings.media_quota_bytes == 1_000_000
    assert settings.media_max_bytes_document == 5000
    assert settings.media_max_pixels == 33_177_600
    assert load_settings(env).media_quota_bytes == 0
    with pytest.raises(ConfigError, match="MEDIA_TYPES: text/html"):
        load_settings({**env, "FLURFUNK_MEDIA_TYPES": "text/html"})
    with pytest.raises(ConfigError, match="MEDIA_MAX_PIXELS"):
        load_settings({**env, "FLURFUNK_MEDIA_MAX_PIXELS": "-5"})
