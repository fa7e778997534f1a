"""Polls read from Questions as other servers send them, and malformed ones read safely."""

from __future__ import annotations

from datetime import UTC, datetime

from inbox.questions import poll_of

# As Mastodon 4 sends a poll (trimmed to the poll's fields).
MASTODON_QUESTION = {
    "id": "https://sales.flurfunk.test/users/bo/statuses/1",
    "type": "Question",
    "content": "<p>Lunch?</p>",
    "endTime": "2026-11-23T12:00:00Z",
    "votersCount": 7,
    "oneOf": [
        {"type": "Note", "name": "Pizza", "replies": {"type": "Collection", "totalItems": 4}},
        {"type": "Note", "name": "Salad", "replies": {"type": "Collection", "totalItems": 3}},
    ],
}


def test_a_mastodon_poll_keeps_its_options_counts_and_end() -> None:
    poll = poll_of(MASTODON_QUESTION)
    assert poll is not None
    assert (poll.options, poll.tallies, poll.multiple) == (("Pizza", "Salad"), (4, 3), False)
    assert poll.ends_at == datetime(2026, 11, 23, 12, tzinfo=UTC)
    assert poll.voters_count == 7


def test_several_choices_and_a_closed_poll() -> None:
    document = {
        "type": "Question",
        "anyOf": [{"name": "A"}, {"name": "B", "replies": {"totalItems": 2}}],
        "closed": "2026-11-20T08:00:00Z",
        "endTime": "2026-11-25T08:00:00Z",
    }
    poll = poll_of(document)
    assert poll is not None
    assert (poll.multiple, poll.tallies, poll.voters_count) == (True, (0, 2), None)
    assert poll.ends_at == datetime(2026, 11, 20, 8, tzinfo=UTC)  # closed wins over endTime
    closed_now = poll_of({**document, "closed": True})
    assert closed_now is not None
    assert closed_now.ends_at is not None
    assert closed_now.ends_at <= datetime.now(UTC)


def test_malformed_polls_are_read_safely() -> None:
    assert poll_of({"type": "Note", "oneOf": [{"name": "A"}]}) is None  # not a Question
    assert poll_of({"type": "Question"}) is None  # no options: a plain note
    assert poll_of({"type": "Question", "oneOf": ["A", None, 3]}) is None
    odd = poll_of(
        {
            "type": "Question",
            "oneOf": [
                {"name": "A", "replies": {"totalItems": -5}},
                {"name": "A"},  # a repeated option counts once
                {"name": "B", "replies": {"totalItems": 10**12}},
                {"name": "  "},
            ],
            "votersCount": "many",
            "endTime": "not a time",
        }
    )
    assert odd is not None
    assert (odd.options, odd.tallies, odd.voters_count, odd.ends_at) == (
        ("A", "B"),
        (0, 0),
        None,
        None,
    )
    many = poll_of({"type": "Question", "oneOf": [{"name": f"o{n}"} for n in range(500)]})
    assert many is not None
    assert len(many.options) == 20
