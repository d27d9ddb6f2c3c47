"""Request bodies in the OpenAPI document: routes read their bodies themselves (`routing.parse`, so that every
dialect words its own errors), which FastAPI cannot see; `json_body(Model)` as a route's `openapi_extra` declares
the model it parses, so clients and schemathesis know what a route takes. `answers({status: Model})` as its
`responses` declares what it answers."""

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel


def json_body(model: type[BaseModel]) -> dict[str, Any]:
    """`openapi_extra` declaring `model` (its JSON Schema, references inlined) as the route's JSON body."""
    schema = model.model_json_schema(by_alias=True)
    defs = schema.pop("$defs", {})
    inlined = _inline(schema, defs, frozenset())
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": inlined}}}}


def _inline(node: Any, defs: dict[str, Any], seen: frozenset[str]) -> Any:
    """`node` with each `#/$defs/…` reference replaced by its definition (a recursive one stays open: `{}`)."""
    if isinstance(node, list):
        return [_inline(item, defs, seen) for item in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        name = ref.removeprefix("#/$defs/")
        return {} if name in seen else _inline(defs[name], defs, seen | {name})
    return {key: _inline(value, defs, seen) for key, value in node.items()}


def answers(by_status: Mapping[int | str, Any]) -> dict[int | str, dict[str, Any]]:
    """`responses` of a route: the model of its JSON body at each status (`"default"`: at any status not listed).
    Routes that send their own JSON declare their answers this way: the document describes the body without
    FastAPI filtering it."""
    return {status: {"model": model} for status, model in by_status.items()}
