"""The ActivityPub protocol, pure: signatures, JSON-LD, the allowlisted HTTP client.

Imports only the standard library, cryptography, httpx and pyld — never another package of ours.
"""
