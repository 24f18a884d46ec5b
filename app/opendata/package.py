"""The HSDS directory as a tabular data package: one CSV per HSDS table + datapackage.json.

File names and columns are HSDS 3.1's tabular ones (``path`` of each HSDS schema); only the
columns Abri fills are written. The package follows Frictionless' tabular-data-package.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from app.opendata.hsds import HSDS_VERSION, UNITS, HsdsDirectory

# (file, HSDS table, [(column, Frictionless type)])
TABLES: tuple[tuple[str, str, tuple[tuple[str, str], ...]], ...] = (
    (
        "organizations.csv",
        "organization",
        (("id", "string"), ("name", "string"), ("description", "string")),
    ),
    (
        "locations.csv",
        "location",
        (
            ("id", "string"),
            ("location_type", "string"),
            ("organization_id", "string"),
            ("name", "string"),
            ("description", "string"),
            ("latitude", "number"),
            ("longitude", "number"),
        ),
    ),
    (
        "services.csv",
        "service",
        (
            ("id", "string"),
            ("organization_id", "string"),
            ("name", "string"),
            ("description", "string"),
            ("status", "string"),
            ("eligibility_description", "string"),
            ("last_modified", "datetime"),
        ),
    ),
    (
        "service_at_location.csv",
        "service_at_location",
        (("id", "string"), ("service_id", "string"), ("location_id", "string")),
    ),
    (
        "service_capacity.csv",
        "service_capacity",
        (
            ("id", "string"),
            ("service_id", "string"),
            ("unit_id", "string"),
            ("available", "number"),
            ("maximum", "number"),
            ("description", "string"),
            ("updated", "datetime"),
        ),
    ),
    (
        "units.csv",
        "unit",
        (("id", "string"), ("name", "string"), ("scheme", "string"), ("identifier", "string")),
    ),
    ("languages.csv", "language", (("id", "string"), ("service_id", "string"), ("code", "string"))),
)


def table_rows(directory: HsdsDirectory) -> dict[str, list[dict[str, Any]]]:
    """The rows of each HSDS table, nested lists flattened into their own tables."""
    return {
        "organization": directory.organizations,
        "location": directory.locations,
        "service": directory.services,
        "service_at_location": directory.services_at_location,
        "service_capacity": [c for s in directory.services for c in s["capacities"]],
        "unit": list(UNITS.values()),
        "language": [lang for s in directory.services for lang in s["languages"]],
    }


def write_package(directory: HsdsDirectory, folder: Path) -> list[Path]:
    """Write every table and the descriptor into ``folder`` (created); the paths written."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = table_rows(directory)
    written: list[Path] = []
    resources: list[dict[str, Any]] = []
    for filename, table, columns in TABLES:
        names = [name for name, _ in columns]
        path = folder / filename
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=names, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(rows[table])
        written.append(path)
        resources.append(
            {
                "name": table,
                "path": filename,
                "profile": "tabular-data-resource",
                "format": "csv",
                "mediatype": "text/csv",
                "encoding": "utf-8",
                "schema": {
                    "fields": [{"name": n, "type": t} for n, t in columns],
                    "primaryKey": "id",
                },
            }
        )
    descriptor = {
        "name": "abri-hsds",
        "title": "Abri: emergency accommodation and tonight's free beds (HSDS)",
        "profile": "tabular-data-package",
        "hsds_version": HSDS_VERSION,
        "resources": resources,
    }
    path = folder / "datapackage.json"
    path.write_text(json.dumps(descriptor, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    written.append(path)
    return written
