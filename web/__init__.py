"""The composition root: app factory, settings loading, CLI, HTTP routes."""
