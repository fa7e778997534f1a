"""Reading Mastodon's CSV exports: the rows as Mastodon writes them, and every broken file
refused whole with the line that is wrong."""

from __future__ import annotations

import pytest

from outbox.csv_import import MAX_ROWS, ImportProblem, Row, parse


def test_mastodons_files_read_as_rows() -> None:
    following = (
        "Account address,Show boosts,Notify on new posts,Languages\r\n"
        "anna@hq.corp.example,false,true,de\r\n"
        "@ben@sales.corp.example:8443,true,false,\r\n"
    )
    assert parse("following", following.encode("utf-8-sig")) == [
        Row("anna@hq.corp.example", reblogs=False, notify=True),
        Row("ben@sales.corp.example:8443", reblogs=True, notify=False),
    ]
    assert parse("blocks", b"troll@x.example\n\nlocaluser\n") == [
        Row("troll@x.example"),
        Row("localuser"),
    ]
    mutes = b"Account address,Hide notifications\nnoisy@x.example,false\n"
    assert parse("mutes", mutes) == [Row("noisy@x.example", notifications=False)]
    assert parse("bookmarks", b"https://hq.corp.example/@anna/1\n") == [
        Row("https://hq.corp.example/@anna/1")
    ]


@pytest.mark.parametrize(
    ("kind", "data", "says"),
    [
        ("following", b"", "empty"),
        ("following", b"Account address,Show boosts\n", "nothing to import"),
        ("blocks", b"ok@x.example\nnot an address\n", "line 2"),
        ("blocks", b"\xff\xfe\x00\x01", "not UTF-8"),
        ("blocks", b"a\x00b\n", "not a CSV"),
        ("mutes", b'"unterminated\n', "not valid CSV"),
        ("bookmarks", b"javascript:alert(1)\n", "line 1"),
        ("bookmarks", b"https://\n", "line 1"),
        ("bookmarks", b"https://[::1/x\n", "line 1"),
        ("bookmarks", b"https://hq.corp.example:99999/@a/1\n", "line 1"),
        ("bookmarks", b"https://hq.corp.example/@a/\x7f1\n", "line 1"),
        ("bookmarks", b"ok\n", "line 1"),
        ("follows", b"a@b.example\n", "unknown kind"),
        ("blocks", b"x" * (300 * 1024), "larger than"),
        ("blocks", b"".join(b"u%d@x.example\n" % i for i in range(MAX_ROWS + 1)), "more than"),
    ],
)
def test_broken_files_are_refused_with_the_reason(kind: str, data: bytes, says: str) -> None:
    with pytest.raises(ImportProblem, match=says):
        parse(kind, data)
