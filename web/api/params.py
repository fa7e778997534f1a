"""Request parameters from any body format clients send, read with types checked.

toot sends JSON with native arrays; Mastodon.py sends forms with `key[]` arrays and booleans
as "1"/"0"; Ice Cubes puts everything in the query string; DELETE may carry a form. All of it
becomes one nested mapping: `a[b][]=x` and `{"a": {"b": ["x"]}}` read the same.
"""

from __future__ import annotations

import re
from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request

from federation import values
from federation.values import InvalidValue
from web.api.errors import ApiError, validation

MAX_JSON_BODY = 1 << 20
_KEY_PART = re.compile(r"\[([^\]]*)\]")
_TRUE = ("1", "true", "on", "yes")
_FALSE = ("0", "false", "off", "no", "")


def _path(key: str) -> list[str]:
    head, _, rest = key.partition("[")
    return [head, *_KEY_PART.findall("[" + rest)] if rest else [head]


def _put(target: dict[str, Any], key: str, value: Any) -> None:
    """Store a flat `a[b][]` style key into nested dicts and lists."""
    parts = _path(key)
    node: Any = target
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        following = None if last else parts[i + 1]
        if part == "" and isinstance(node, list):
            if last:
                node.append(value)
                return
            node.append({})
            node = node[-1]
            continue
        if not isinstance(node, dict):
            return  # a key that contradicts an earlier one: ignore the later shape
        if last:
            existing = node.get(part)
            if isinstance(existing, list) and not isinstance(value, list):
                existing.append(value)
            else:
                node[part] = value
            return
        if part not in node or not isinstance(node[part], dict | list):
            node[part] = [] if following == "" else {}
        node = node[part]


class Params:
    """Typed access to the merged query + body parameters of one request."""

    def __init__(self, data: dict[str, Any], files: dict[str, UploadFile] | None = None) -> None:
        self.data = data
        self.files = files or {}

    def __contains__(self, name: str) -> bool:
        return name in self.data

    def raw(self, name: str) -> Any:
        return self.data.get(name)

    def text(
        self, name: str, default: str | None = None, *, max_length: int | None = None
    ) -> str | None:
        value = self.data.get(name)
        if value is None:
            return default
        if isinstance(value, bool | int | float):
            value = str(value).lower() if isinstance(value, bool) else str(value)
        if not isinstance(value, str):
            raise validation(f"{name} must be a string")
        if max_length is not None and len(value) > max_length:
            raise validation(f"{name} is too long (maximum is {max_length} characters)")
        if "\x00" in value:
            # PostgreSQL text cannot hold NUL; refused alike on every database.
            raise validation(f"{name} must not contain NUL characters")
        return value

    def flag(self, name: str, default: bool = False) -> bool:
        value = self.data.get(name)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise validation(f"{name} must be a boolean")

    def number(
        self,
        name: str,
        default: int | None = None,
        *,
        minimum: int | None = None,
        maximum: int | None = None,
    ) -> int | None:
        value = self.data.get(name)
        if value is None or value == "":
            return default
        try:
            number = values.integer(value, name)
        except InvalidValue as exc:
            raise validation(str(exc)) from None
        if minimum is not None and number < minimum:
            number = minimum
        if maximum is not None and number > maximum:
            number = maximum
        return number

    def id(self, name: str) -> int | None:
        """An entity id: digits only; anything else can name no record."""
        value = self.data.get(name)
        if value is None or value == "":
            return None
        return parse_id(value)

    def items(self, name: str) -> list[Any]:
        value = self.data.get(name)
        if value is None:
            return []
        if isinstance(value, list):
            return value
        if isinstance(value, dict):  # indexed form keys: a[0]=x&a[1]=y
            return [value[k] for k in sorted(value, key=lambda k: (len(k), k))]
        return [value]

    def strings(self, name: str) -> list[str]:
        items = self.items(name)
        if not all(isinstance(item, str | int) for item in items):
            raise validation(f"{name} must be a list of strings")
        return [str(item) for item in items if str(item) != ""]

    def ids(self, name: str) -> list[int]:
        return [parse_id(item) for item in self.strings(name)]

    def mapping(self, name: str) -> dict[str, Any]:
        value = self.data.get(name)
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise validation(f"{name} must be an object")
        return value

    def sub(self, name: str) -> Params:
        return Params(self.mapping(name))

    def file(self, name: str) -> UploadFile | None:
        return self.files.get(name)


def parse_id(value: Any) -> int:
    try:
        return values.row_id(value)
    except InvalidValue:
        raise ApiError(404, "Record not found") from None


def _merge_multi(items: list[tuple[str, Any]], into: dict[str, Any]) -> None:
    for key, value in items:
        if "[" in key:
            _put(into, key, value)
        else:
            into[key] = value  # a repeated plain key: the last one wins, as in Rails


async def read_params(request: Request) -> Params:
    """Query string and body, merged (the body wins); files kept apart."""
    data: dict[str, Any] = {}
    files: dict[str, UploadFile] = {}
    _merge_multi(list(request.query_params.multi_items()), data)
    if request.method in ("GET", "HEAD"):
        return Params(data)
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "application/json" or content_type.endswith("+json"):
        body = await request.body()
        if len(body) > MAX_JSON_BODY:
            raise ApiError(413, "Request body too large")
        if body.strip():
            try:
                parsed = values.json_document(body)
            except InvalidValue as exc:
                raise ApiError(400, f"The request body is not usable: {exc}") from None
            if not isinstance(parsed, dict):
                raise ApiError(400, "The request body must be a JSON object")
            for key, value in parsed.items():
                if "[" in key:
                    _put(data, key, value)
                else:
                    data[key] = value
    elif content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        try:
            form = await request.form(max_files=8, max_fields=2000, max_part_size=64 * 1024 * 1024)
        except Exception as exc:  # malformed multipart: the parser raises its own types
            raise ApiError(400, f"Malformed form body: {exc}") from None
        items: list[tuple[str, Any]] = []
        for key, value in form.multi_items():
            if isinstance(value, UploadFile):
                files[key] = value
            else:
                items.append((key, value))
        _merge_multi(items, data)
    return Params(data, files)
