"""API errors: raised anywhere in a request, answered as `{"error": "…"}` with a 4xx."""

from __future__ import annotations


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        description: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.description = description  # OAuth's error_description
        self.headers = headers


def not_found() -> ApiError:
    return ApiError(404, "Record not found")


def validation(message: str) -> ApiError:
    return ApiError(422, f"Validation failed: {message}")


def forbidden(message: str = "This action is not allowed") -> ApiError:
    return ApiError(403, message)
