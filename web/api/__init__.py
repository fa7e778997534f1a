"""The Mastodon-compatible client API."""
