"""What arrives from other nodes: receive, verify, store, dispatch to one handler per type."""
