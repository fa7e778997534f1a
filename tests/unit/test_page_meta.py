"""What a page says about itself, read from hostile markup: texts without markup, only
http(s) URLs, oEmbed HTML only as one rebuilt iframe from an allowed host."""

from __future__ import annotations

from federation.allowlist import Allowlist, PreviewHosts
from outbox.page_meta import first_link, read_page, with_oembed

PAGE = "http://wiki.corp.test/plan"


def page(head: str) -> bytes:
    return f"<!doctype html><html><head>{head}</head><body><p>hi</p></body></html>".encode()


def test_opengraph_wins_over_the_title_and_relative_urls_resolve() -> None:
    meta = read_page(
        page(
            "<title>Fallback</title>"
            '<meta property="og:title" content="Quarterly plan">'
            '<meta property="og:description" content="What we ship">'
            '<meta property="og:image" content="/img/plan.png">'
            '<meta property="og:site_name" content="Corp Wiki">'
            '<link rel="alternate" type="application/json+oembed" href="/oembed?u=plan">'
        ),
        PAGE,
    )
    assert (meta.title, meta.description) == ("Quarterly plan", "What we ship")
    assert meta.image == "http://wiki.corp.test/img/plan.png"
    assert meta.provider_name == "Corp Wiki"
    assert meta.oembed == "http://wiki.corp.test/oembed?u=plan"


def test_script_in_the_title_and_a_javascript_image_are_cleaned_away() -> None:
    meta = read_page(
        page(
            '<meta property="og:title" content="&lt;script&gt;alert(1)&lt;/script&gt;Plan'
            ' &lt;img src=x onerror=alert(2)&gt;">'
            '<meta property="og:image" content="javascript:alert(1)">'
            '<meta name="twitter:description" content="&amp;lt;b&amp;gt;bold&amp;lt;/b&amp;gt;">'
        ),
        PAGE,
    )
    assert meta.title == "Plan"
    assert meta.image is None
    assert meta.description == "bold"


def test_oembed_html_survives_only_as_a_rebuilt_iframe_from_an_allowed_host() -> None:
    allowed = Allowlist(["wiki.corp.test"]).allows_url
    base = read_page(page("<title>Clip</title>"), PAGE)
    hostile = {
        "type": "video",
        "title": "<b>Clip</b>",
        "html": '<script>steal()</script><iframe src="http://wiki.corp.test/embed/1" '
        'onload="steal()" width="640" height="360"></iframe>',
    }
    card = with_oembed(base, hostile, allowed)
    assert card.type == "video"
    assert card.title == "Clip"
    assert "<script" not in card.html
    assert "onload" not in card.html
    assert card.html.startswith('<iframe src="http://wiki.corp.test/embed/1" width="640"')
    elsewhere = {**hostile, "html": '<iframe src="http://evil.test/x"></iframe>'}
    assert with_oembed(base, elsewhere, allowed).html == ""
    assert with_oembed(base, elsewhere, allowed).type == "link"


def test_the_first_link_skips_mentions_and_hashtags() -> None:
    html = (
        '<p><span class="h-card"><a href="http://hq/@anna" class="u-url mention">@anna</a></span>'
        ' <a href="http://hq/tags/x" class="mention hashtag" rel="tag">#x</a>'
        ' <a href="http://wiki.corp.test/plan" rel="nofollow">plan</a>'
        ' <a href="http://wiki.corp.test/other">other</a></p>'
    )
    assert first_link(html) == "http://wiki.corp.test/plan"
    assert first_link("<p>no links</p>") is None
    assert first_link('<p><a href="javascript:alert(1)">x</a></p>') is None


def test_preview_hosts_take_ip_literals_and_loopback_ports_only_as_listed() -> None:
    hosts = PreviewHosts(
        lambda: Allowlist(["sales.flurfunk.test"]),
        ["wiki.corp.test", "*.corp.test", "127.0.0.1:8650", "localhost:9000", "10.1.2.3"],
    )
    assert hosts.allows_url("http://wiki.corp.test/a")
    assert hosts.allows_url("http://sales.flurfunk.test:41000/a")
    assert hosts.allows_url("http://127.0.0.1:8650/a")
    assert hosts.allows_url("http://10.1.2.3/a")
    assert hosts.allows_url("http://localhost:9000/a")
    assert not hosts.allows_url("http://127.0.0.1:8651/a")  # another port of loopback
    assert not hosts.allows_url("http://127.0.0.1/a")
    assert not hosts.allows_url("http://localhost/a")
    assert not hosts.allows_url("http://10.1.2.4/a")
    assert not hosts.allows_url("http://intranet.example/a")
    assert not Allowlist(["*.0.1"]).allows_url("http://127.0.0.1/a")  # no wildcard IPs
