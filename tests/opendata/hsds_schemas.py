"""HSDS 3.1's JSON Schemas for the objects Abri exports, restated for the tests.

Transcribed from the Open Referral HSDS 3.1 schema files (``schema/*.json`` of the
openreferral/specification repository, 3.1 release): for each object, its ``required``
list, the types and formats of the fields Abri writes, and the enums. Not vendored whole:
the tests need the constraints, not the documentation around them. Draft 2020-12.
"""

from __future__ import annotations

from typing import Any

_UUID = {"type": "string", "format": "uuid"}
_DATETIME = {"type": "string", "format": "date-time"}
_STRING = {"type": "string"}
_NUMBER = {"type": "number"}

UNIT: dict[str, Any] = {
    "type": "object",
    "required": ["id", "name"],
    "properties": {
        "id": _UUID,
        "name": _STRING,
        "scheme": _STRING,
        "identifier": _STRING,
        "uri": {"type": "string", "format": "uri"},
    },
}

SERVICE_CAPACITY: dict[str, Any] = {
    "type": "object",
    "required": ["id", "unit", "available", "updated"],
    "properties": {
        "id": _UUID,
        "service_id": _UUID,
        "unit": UNIT,
        "unit_id": _UUID,
        "available": _NUMBER,
        "maximum": _NUMBER,
        "description": _STRING,
        "updated": _DATETIME,
    },
}

LANGUAGE: dict[str, Any] = {
    "type": "object",
    "required": ["id"],
    "properties": {
        "id": _UUID,
        "service_id": _UUID,
        "location_id": _UUID,
        "phone_id": _UUID,
        "name": _STRING,
        "code": _STRING,
        "note": _STRING,
    },
}

SERVICE_AT_LOCATION: dict[str, Any] = {
    "type": "object",
    "required": ["id"],
    "properties": {"id": _UUID, "service_id": _UUID, "location_id": _UUID, "description": _STRING},
}

ORGANIZATION: dict[str, Any] = {
    "type": "object",
    "required": ["id", "name", "description"],
    "properties": {
        "id": _UUID,
        "name": _STRING,
        "alternate_name": _STRING,
        "description": _STRING,
        "email": {"type": "string", "format": "email"},
        "website": {"type": "string", "format": "uri"},
        "parent_organization_id": _UUID,
    },
}

LOCATION: dict[str, Any] = {
    "type": "object",
    "required": ["id", "location_type"],
    "properties": {
        "id": _UUID,
        "location_type": {"type": "string", "enum": ["physical", "postal", "virtual"]},
        "url": {"type": "string", "format": "uri"},
        "organization_id": _UUID,
        "name": _STRING,
        "alternate_name": _STRING,
        "description": _STRING,
        "latitude": _NUMBER,
        "longitude": _NUMBER,
    },
}

SERVICE: dict[str, Any] = {
    "type": "object",
    "required": ["id", "name", "status"],
    "properties": {
        "id": _UUID,
        "organization_id": _UUID,
        "program_id": _UUID,
        "name": _STRING,
        "description": _STRING,
        "status": {
            "type": "string",
            "enum": ["active", "inactive", "defunct", "temporarily closed"],
        },
        "eligibility_description": _STRING,
        "minimum_age": _NUMBER,
        "maximum_age": _NUMBER,
        "last_modified": _DATETIME,
        "languages": {"type": "array", "items": LANGUAGE},
        "capacities": {"type": "array", "items": SERVICE_CAPACITY},
        "service_at_locations": {"type": "array", "items": SERVICE_AT_LOCATION},
    },
}


def page_of(item: dict[str, Any]) -> dict[str, Any]:
    """The HSDS API's ``Page`` (components.schemas.Page) with ``contents`` of ``item``."""
    return {
        "type": "object",
        "required": ["empty"],
        "properties": {
            "total_items": {"type": "integer"},
            "total_pages": {"type": "integer"},
            "page_number": {"type": "integer"},
            "size": {"type": "integer"},
            "first_page": {"type": "boolean"},
            "last_page": {"type": "boolean"},
            "empty": {"type": "boolean"},
            "contents": {"type": "array", "items": item},
        },
    }
