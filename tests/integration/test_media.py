"""Uploading media: images verified and stripped, documents kept, everything else refused."""

from __future__ import annotations

import io
import time
import zipfile
from urllib.parse import urlsplit

import httpx
import pytest
from mastodon import Mastodon, MastodonAPIError, MastodonNotFoundError
from PIL import Image

from tests.kit import RunningNode, User

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
ODT = "application/vnd.oasis.opendocument.text"
PDF_GARBAGE = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def pdf(pages: int = 1) -> bytes:
    """A PDF of A4 pages as a scanner makes them; page one has a red box near its top."""
    images = []
    for number in range(pages):
        page = Image.new("RGB", (595, 842), "white")
        colour = (200, 30, 30) if number == 0 else (30, 30, 200)
        page.paste(colour, (60, 100, 535, 200))
        images.append(page)
    buffer = io.BytesIO()
    images[0].save(buffer, "PDF", save_all=True, append_images=images[1:])
    return buffer.getvalue()


def odt() -> bytes:
    """An OpenDocument text: its type stored first and uncompressed, as the format requires."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(zipfile.ZipInfo("mimetype"), ODT, compress_type=zipfile.ZIP_STORED)
        archive.writestr(
            "content.xml", "<office:document-content>Protokoll</office:document-content>"
        )
    return buffer.getvalue()


def png(width: int = 800, height: int = 600) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (30, 120, 200)).save(buffer, "PNG")
    return buffer.getvalue()


def jpeg_with_location(width: int = 300, height: int = 200) -> bytes:
    """A photo as phones take them: GPS position and camera in EXIF, turned by a tag."""
    exif = Image.Exif()
    exif[0x010F] = "SecretPhoneMaker"  # Make
    exif[0x0112] = 6  # Orientation: rotate 90° clockwise to view
    exif.get_ifd(0x8825)[2] = (52.0, 31.0, 12.0)  # GPSLatitude
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), "orange").save(buffer, "JPEG", exif=exif.tobytes())
    return buffer.getvalue()


def docx() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<document>Quartalszahlen</document>")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def uploader(node: RunningNode) -> User:
    """One user for the many refusals, which leave nothing behind."""
    return node.create_user("uploader")


def client(node: RunningNode, user: User) -> Mastodon:
    return Mastodon(access_token=user.token, api_base_url=node.url)


def upload(
    node: RunningNode,
    user: User,
    data: bytes,
    name: str,
    mime: str,
    path: str = "/api/v2/media",
    **fields: str,
) -> httpx.Response:
    return node.api(user, "POST", path, files={"file": (name, data, mime)}, data=fields)


def test_png_upload_is_an_image_with_sizes_and_preview(node: RunningNode, alice: User) -> None:
    media = client(node, alice).media_post(
        png(), mime_type="image/png", description="Blue square", focus=(0.5, -0.25)
    )
    assert media.type == "image"
    assert media.description == "Blue square"
    assert media.url.startswith(node.url + "/media/")
    assert media.meta.original.width == 800
    assert media.meta.original.height == 600
    assert media.meta.original.size == "800x600"
    assert media.meta.small.width == 640
    assert media.meta.small.height == 480
    assert (media.meta.focus.x, media.meta.focus.y) == (0.5, -0.25)
    assert len(media.blurhash) == 28  # 4 x 3 components

    served = httpx.get(media.url)
    assert served.status_code == 200
    assert served.headers["content-type"] == "image/png"
    assert served.headers["x-content-type-options"] == "nosniff"
    assert Image.open(io.BytesIO(served.content)).size == (800, 600)
    preview = httpx.get(media.preview_url)
    assert preview.headers["content-type"].startswith("image/")
    assert Image.open(io.BytesIO(preview.content)).size == (640, 480)


def test_uploaded_image_can_be_posted(node: RunningNode, alice: User) -> None:
    api = client(node, alice)
    media = api.media_post(png(120, 90), mime_type="image/png", description="chart")
    status = api.status_post("Our new chart", media_ids=[media])
    attachments = status.media_attachments
    assert [a.id for a in attachments] == [media.id]
    assert attachments[0].description == "chart"
    assert httpx.get(attachments[0].url).headers["content-type"] == "image/png"
    # As on Mastodon, an attached upload is no longer reachable through /api/v1/media/:id.
    with pytest.raises(MastodonNotFoundError):
        api.media(media)


def test_photo_loses_its_location_and_is_turned_upright(node: RunningNode, alice: User) -> None:
    media = client(node, alice).media_post(jpeg_with_location(), mime_type="image/jpeg")
    assert media.meta.original.size == "200x300"  # the orientation tag is applied
    served = httpx.get(media.url)
    assert served.headers["content-type"] == "image/jpeg"
    assert b"SecretPhoneMaker" not in served.content
    image = Image.open(io.BytesIO(served.content))
    assert image.size == (200, 300)
    assert dict(image.getexif()) == {}


def test_pdf_gets_a_preview_of_its_first_page(node: RunningNode, alice: User) -> None:
    api = client(node, alice)
    data = pdf(pages=3)
    response = upload(node, alice, data, "Quartalsbericht Q3.pdf", "application/pdf")
    assert response.status_code == 202  # the preview is rendered after the answer
    assert response.json()["url"] is None
    assert response.json()["type"] == "unknown"
    media = api.media(response.json()["id"])  # waits as apps do: 206 while processing
    while media.url is None:
        time.sleep(0.2)
        media = api.media(media)
    assert urlsplit(media.url).path.endswith(".pdf")
    served = httpx.get(media.url)
    assert served.headers["content-type"] == "application/pdf"
    assert served.headers["content-disposition"] == "attachment"
    assert served.content == data
    preview = httpx.get(media.preview_url)
    assert preview.headers["content-type"].startswith("image/")
    page = Image.open(io.BytesIO(preview.content)).convert("RGB")
    assert page.height > page.width  # an A4 page, upright
    assert page.getpixel((page.width // 4, int(page.height * 0.18))) == pytest.approx(
        (200, 30, 30), abs=40
    )  # the red box of page one
    status = api.status_post("Der Bericht", media_ids=[media])
    shown = status.media_attachments[0]
    assert shown.type == "unknown"
    assert urlsplit(shown.preview_url).path == urlsplit(media.preview_url).path


def test_status_with_an_attachment_still_processing_is_refused(
    node: RunningNode, alice: User
) -> None:
    response = upload(node, alice, pdf(pages=1), "plan.pdf", "application/pdf")
    assert response.status_code == 202
    media_id = response.json()["id"]
    posted = node.api(
        alice, "POST", "/api/v1/statuses", data={"status": "x", "media_ids[]": media_id}
    )
    if node.api(alice, "GET", f"/api/v1/media/{media_id}").status_code == 206:
        assert posted.status_code == 422
        assert "processing" in posted.json()["error"]
    # Either way the upload becomes ready and can then be posted.
    while node.api(alice, "GET", f"/api/v1/media/{media_id}").status_code == 206:
        time.sleep(0.2)
    if posted.status_code == 422:
        again = node.api(
            alice, "POST", "/api/v1/statuses", data={"status": "x", "media_ids[]": media_id}
        )
        assert again.status_code == 200


def test_unreadable_pdf_fails_processing(node: RunningNode, uploader: User) -> None:
    response = upload(node, uploader, PDF_GARBAGE, "kaputt.pdf", "application/pdf")
    assert response.status_code == 202
    media_id = response.json()["id"]
    answer = node.api(uploader, "GET", f"/api/v1/media/{media_id}")
    while answer.status_code == 206:
        time.sleep(0.2)
        answer = node.api(uploader, "GET", f"/api/v1/media/{media_id}")
    assert answer.status_code == 422
    assert "processing" in answer.json()["error"]
    posted = node.api(
        uploader, "POST", "/api/v1/statuses", data={"status": "x", "media_ids[]": media_id}
    )
    assert posted.status_code == 422


def test_legacy_v1_upload_waits_for_the_pdf_preview(node: RunningNode, uploader: User) -> None:
    response = upload(node, uploader, pdf(pages=1), "memo.pdf", "application/pdf", "/api/v1/media")
    assert response.status_code == 200
    assert urlsplit(response.json()["url"]).path.endswith(".pdf")
    assert httpx.get(response.json()["preview_url"]).status_code == 200


@pytest.mark.parametrize(
    ("data", "mime", "kind", "served"),
    [
        (b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 64, "video/mp4", "video", "video/mp4"),
        (b"\x1a\x45\xdf\xa3" + b"\x00" * 64, "video/webm", "video", "video/webm"),
        (b"ID3\x04\x00" + b"\x00" * 64, "audio/mp3", "audio", "audio/mpeg"),
        (b"OggS" + b"\x00" * 64, "audio/ogg", "audio", "audio/ogg"),
    ],
)
def test_video_and_audio_are_kept_as_sent(
    node: RunningNode, uploader: User, data: bytes, mime: str, kind: str, served: str
) -> None:
    media = client(node, uploader).media_post(data, mime_type=mime)
    assert media.type == kind
    response = httpx.get(media.url)
    assert response.headers["content-type"] == served
    assert response.content == data


def test_video_gets_a_custom_preview_image(node: RunningNode, uploader: User) -> None:
    clip = b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 64
    media = client(node, uploader).media_post(
        clip, mime_type="video/mp4", thumbnail=png(1280, 720), thumbnail_mime_type="image/png"
    )
    assert media.meta.small.size == "640x360"
    preview = httpx.get(media.preview_url)
    assert preview.headers["content-type"] == "image/jpeg"


@pytest.mark.parametrize(
    ("data", "name", "served"),
    [
        (docx(), "report.bin", DOCX),
        (odt(), "protokoll", ODT),
        (b"Name;Abteilung;Telefon\nAda;IT;123\nGrace;HR;456\n", "liste.txt", "text/csv"),
        (b"Bitte bis Freitag melden.\n", "notiz.csv", "text/plain"),
    ],
)
def test_documents_are_recognised_by_content_not_name(
    node: RunningNode, alice: User, data: bytes, name: str, served: str
) -> None:
    response = upload(node, alice, data, name, "application/octet-stream")
    assert response.status_code == 200
    media = response.json()
    assert media["type"] == "unknown"
    answer = httpx.get(media["url"])
    assert answer.headers["content-type"].split(";")[0] == served
    assert answer.headers["content-disposition"] == "attachment"
    assert answer.content == data


def test_odt_by_mastodon_py(node: RunningNode, alice: User) -> None:
    media = client(node, alice).media_post(odt(), mime_type=ODT, file_name="Protokoll.odt")
    assert media.type == "unknown"
    assert urlsplit(media.url).path.endswith(".odt")
    assert media.preview_url is None


def test_served_media_answers_ranges_and_may_be_cached(node: RunningNode, alice: User) -> None:
    data = bytes(range(256)) * 40
    response = upload(node, alice, b"ID3\x04\x00" + data, "clip.mp3", "audio/mpeg")
    url = response.json()["url"]
    whole = httpx.get(url)
    assert whole.headers["accept-ranges"] == "bytes"
    assert "etag" in whole.headers
    assert "last-modified" in whole.headers
    assert whole.headers["cache-control"] == "private, no-store"  # unattached: its owner's alone
    part = httpx.get(url, headers={"Range": "bytes=100-199"})
    assert part.status_code == 206
    assert part.content == whole.content[100:200]
    assert part.headers["content-range"] == f"bytes 100-199/{len(whole.content)}"


@pytest.mark.parametrize(
    ("name", "data", "mime"),
    [
        ("setup.exe", b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 200, "application/octet-stream"),
        ("setup.exe", b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 200, "application/x-msdownload"),
        ("invoice.pdf", b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 200, "application/pdf"),
        ("clip.mp4", b"MZ\x90\x00" + b"\x00" * 200, "video/mp4"),
        ("photo.png", b"\x89PNG\r\n\x1a\n" + b"garbage" * 50, "image/png"),
        ("photo.jpg", b"this is not a picture at all", "image/jpeg"),
        ("page.html", b"<html><script>alert(1)</script></html>", "text/html"),
        ("notes.txt", b"<html><body><script>alert(1)</script></body></html>", "text/plain"),
        ("image.svg", b"<svg xmlns='http://www.w3.org/2000/svg'><script/></svg>", "image/svg+xml"),
        ("image.png", b"<svg xmlns='http://www.w3.org/2000/svg'><script/></svg>", "text/plain"),
    ],
)
def test_files_that_are_not_what_we_keep_are_refused(
    node: RunningNode, uploader: User, name: str, data: bytes, mime: str
) -> None:
    response = upload(node, uploader, data, name, mime)
    assert response.status_code == 422
    assert response.json()["error"].startswith("Validation failed")


def test_oversized_image_is_refused_with_413(node: RunningNode, alice: User) -> None:
    big = b"\x89PNG\r\n\x1a\n" + b"\x00" * (16 * 1024 * 1024)
    response = upload(node, alice, big, "huge.png", "image/png")
    assert response.status_code == 413
    assert "too large" in response.json()["error"]
    assert "images is 16.0 MB" in response.json()["error"]


def test_decompression_bomb_is_refused(node: RunningNode, uploader: User) -> None:
    buffer = io.BytesIO()
    Image.new("1", (6000, 6000)).save(buffer, "PNG")  # 36 megapixels in a few KB
    assert len(buffer.getvalue()) < 100_000
    response = upload(node, uploader, buffer.getvalue(), "bomb.png", "image/png")
    assert response.status_code == 422
    assert "exceed the limit of 33177600 pixels" in response.json()["error"]


def test_heic_photo_from_a_phone_becomes_a_jpeg(node: RunningNode, alice: User) -> None:
    from pillow_heif import register_heif_opener

    register_heif_opener()
    exif = Image.Exif()
    exif[0x010F] = "SecretPhoneMaker"
    exif.get_ifd(0x8825)[2] = (52.0, 31.0, 12.0)
    buffer = io.BytesIO()
    Image.new("RGB", (320, 240), "teal").save(buffer, "HEIF", exif=exif.tobytes())
    media = client(node, alice).media_post(buffer.getvalue(), mime_type="image/heic")
    assert media.type == "image"
    assert media.meta.original.size == "320x240"
    served = httpx.get(media.url)
    assert served.headers["content-type"] == "image/jpeg"
    assert b"SecretPhoneMaker" not in served.content
    assert dict(Image.open(io.BytesIO(served.content)).getexif()) == {}


def test_legacy_v1_upload(node: RunningNode, alice: User) -> None:
    response = upload(
        node, alice, png(10, 10), "dot.png", "image/png", "/api/v1/media", description="a dot"
    )
    assert response.status_code == 200
    assert response.json()["type"] == "image"
    assert response.json()["description"] == "a dot"


def test_description_and_focus_update(node: RunningNode, alice: User) -> None:
    api = client(node, alice)
    media = api.media_post(png(40, 40), mime_type="image/png")
    assert media.description is None
    updated = api.media_update(media, description="Team photo, summer party", focus=(-1, 1))
    assert updated.description == "Team photo, summer party"
    assert (updated.meta.focus.x, updated.meta.focus.y) == (-1, 1)
    again = api.media(media)
    assert again.description == "Team photo, summer party"
    assert again.url == media.url


def test_bad_updates_change_nothing(node: RunningNode, alice: User) -> None:
    api = client(node, alice)
    media = api.media_post(png(20, 20), mime_type="image/png", description="kept")
    too_long = node.api(alice, "PUT", f"/api/v1/media/{media.id}", data={"description": "x" * 1501})
    assert too_long.status_code == 422
    bad_focus = node.api(alice, "PUT", f"/api/v1/media/{media.id}", data={"focus": "2,abc"})
    assert bad_focus.status_code == 422
    assert bad_focus.json()["error"].startswith("Validation failed")
    assert api.media(media).description == "kept"
    with pytest.raises(MastodonAPIError):
        api.media_post(png(), mime_type="image/png", description="y" * 1501)


def test_others_uploads_are_invisible(node: RunningNode, alice: User, bob: User) -> None:
    media = client(node, alice).media_post(png(20, 20), mime_type="image/png")
    for method in ("GET", "PUT", "DELETE"):
        response = node.api(bob, method, f"/api/v1/media/{media.id}", data={"description": "x"})
        assert response.status_code == 404
        assert response.json() == {"error": "Record not found"}
    assert node.api(alice, "GET", "/api/v1/media/not-a-number").status_code == 404
    assert client(node, alice).media(media).id == media.id


def test_delete_unattached_upload(node: RunningNode, alice: User) -> None:
    media = client(node, alice).media_post(png(20, 20), mime_type="image/png")
    assert node.api(alice, "DELETE", f"/api/v1/media/{media.id}").status_code == 200
    assert node.api(alice, "GET", f"/api/v1/media/{media.id}").status_code == 404
    assert httpx.get(media.url).status_code == 404


def test_upload_errors_have_mastodon_shapes(node: RunningNode, alice: User) -> None:
    no_file = node.api(alice, "POST", "/api/v2/media", data={"description": "nothing"})
    assert no_file.status_code == 422
    assert no_file.json() == {"error": "Validation failed: File can't be blank"}
    anonymous = httpx.post(node.url + "/api/v2/media", files={"file": ("a.png", png(5, 5))})
    assert anonymous.status_code == 401
    reader = node.create_user("reader", scopes="read")
    refused = upload(node, reader, png(5, 5), "a.png", "image/png")
    assert refused.status_code == 403
    assert "error" in refused.json()
