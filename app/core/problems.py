"""The problem+json documents of ``app/core/errors.py``, described for the OpenAPI schema."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class ProblemFieldError(BaseModel):
    loc: list[str | int] = Field(description="Path to the bad field, e.g. ['members', 0, 'age']")
    msg: str


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    errors: list[ProblemFieldError] | None = Field(None, description="For 422: every bad field")


def _problem(description: str) -> dict[str, Any]:
    return {
        "model": Problem,
        "description": description,
        # "model" registers the schema; errors are actually sent as problem+json.
        "content": {
            "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
        },
    }


# Merged into each domain router's ``responses``.
PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: _problem("No token, or a token that is not valid"),
    403: _problem("This token's role may not do this"),
    404: _problem("No such object (or not yours, for a shelter token)"),
    422: _problem("Invalid input: `errors` names every bad field"),
}
