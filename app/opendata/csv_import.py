"""Import the shelter directory from two CSV files, all or nothing.

The layout is in ``docs/opendata.md``. Each row is validated with the API's own schemas
(``ShelterCreate``, ``RoomCreate``), so a CSV file and ``POST /shelters`` accept exactly the
same values; a bad cell is reported as (file, line, column, reason) and nothing is written.

Shelters are keyed by their ``id`` column, rooms by (``shelter_id``, ``label``): importing the
same files twice changes nothing the second time (no version moves, no audit row but the
import's own). Rooms absent from the file are left as they are (the import adds and
updates the directory; retiring a room stays a deliberate act). Tonight's state
(``occupied_beds``, ``out_of_service``) is the shelter's to declare, never imported.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit.service import record
from app.auth.dependencies import Principal
from app.core.locks import lock_rooms, lock_shelters_for_change
from app.shelters.capacity import held_beds_by_room
from app.shelters.models import Room, Shelter
from app.shelters.schemas import RoomCreate, ShelterCreate
from app.shelters.service import room_errors
from app.territories.scope import all_territories

SHELTER_COLUMNS = (
    "id",
    "name",
    "kind",
    "lat",
    "lon",
    "women",
    "men",
    "children",
    "max_boy_age",
    "dv_specialised",
    "secure",
    "wheelchair",
    "pets",
    "languages",
    "address",
    "commune",
    "intake_phone",
    "confidential",
)
ROOM_COLUMNS = ("shelter_id", "label", "beds", "cribs", "shared", "sex", "wheelchair")
_REQUIRED_SHELTER = frozenset({"id", "name", "kind", "lat", "lon", "women", "men", "children"})
_REQUIRED_ROOM = frozenset({"shelter_id", "label", "beds"})
# The same alphabet as the service's own ids, so an imported id is safe in a URL path.
_ID = re.compile(r"^[A-Za-z0-9_.-]{1,40}$")
_TRUE = frozenset({"true", "1", "yes", "oui", "y", "o"})
_FALSE = frozenset({"false", "0", "no", "non", "n"})
_BOOL_FIELDS = frozenset(
    {"women", "men", "children", "dv_specialised", "secure", "wheelchair", "pets", "shared"}
    | {"confidential"}
)
_INT_FIELDS = frozenset({"max_boy_age", "beds", "cribs"})
_FLOAT_FIELDS = frozenset({"lat", "lon"})
MAX_ROWS = 20_000


@dataclass(frozen=True)
class CellError:
    file: str
    line: int  # 1 = the header line, as a spreadsheet numbers it
    column: str
    reason: str

    def as_problem_error(self) -> dict[str, Any]:
        return {"loc": [self.file, self.line, self.column], "msg": self.reason}

    def sentence(self) -> str:
        return f"{self.file} line {self.line}, column {self.column}: {self.reason}"


class ImportRejected(Exception):  # noqa: N818 - the import's answer, not a crash
    def __init__(self, errors: list[CellError]) -> None:
        super().__init__(f"{len(errors)} error(s)")
        self.errors = errors


@dataclass
class ImportCounts:
    shelters_created: int = 0
    shelters_updated: int = 0
    shelters_unchanged: int = 0
    rooms_created: int = 0
    rooms_updated: int = 0
    rooms_unchanged: int = 0

    @property
    def changed(self) -> int:
        return (
            self.shelters_created + self.shelters_updated + self.rooms_created + self.rooms_updated
        )


@dataclass
class _Row:
    line: int
    values: dict[str, Any]


@dataclass
class _Parsed:
    shelters: list[_Row] = field(default_factory=list)
    rooms: list[_Row] = field(default_factory=list)
    errors: list[CellError] = field(default_factory=list)


def import_directory(
    session: Session,
    principal: Principal | None,
    shelters_csv: str,
    rooms_csv: str,
    *,
    territory_id: str,
    dry_run: bool = False,
) -> ImportCounts:
    """Validate both files, then apply them in this session (the caller commits), as the
    directory of ``territory_id``: its shelters are created or updated, never another's.

    Raises ``ImportRejected`` with every bad cell, before anything is written."""
    parsed = _Parsed()
    parsed.shelters = list(_rows(parsed, "shelters.csv", shelters_csv, SHELTER_COLUMNS))
    parsed.rooms = list(_rows(parsed, "rooms.csv", rooms_csv, ROOM_COLUMNS))
    shelters = _validate_shelters(parsed)
    _refuse_foreign_ids(session, parsed, shelters, territory_id)
    rooms = _validate_rooms(parsed, shelters, _existing_shelter_ids(session, territory_id))
    if parsed.errors:
        raise ImportRejected(parsed.errors)
    counts = ImportCounts()
    # A savepoint: a dry run, or a room change refused below, leaves the session untouched.
    savepoint = session.begin_nested()
    _apply_shelters(session, shelters, counts, territory_id)
    _apply_rooms(session, rooms, counts, parsed)
    session.flush()
    if parsed.errors or dry_run:
        savepoint.rollback()
        if parsed.errors:  # a room change that would overlap beds taken tonight
            raise ImportRejected(parsed.errors)
        return counts
    savepoint.commit()
    if counts.changed:
        record(session, principal, "directory.import", "directory", None, asdict(counts))
    return counts


# --- reading --------------------------------------------------------------------------------


def _rows(parsed: _Parsed, name: str, text: str, columns: Iterable[str]) -> Iterator[_Row]:
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [h.strip() for h in (reader.fieldnames or [])]
    known = set(columns)
    unknown = [h for h in header if h not in known]
    required = _REQUIRED_SHELTER if name == "shelters.csv" else _REQUIRED_ROOM
    missing = sorted(required - set(header))
    for column in unknown:
        parsed.errors.append(CellError(name, 1, column, "unknown column"))
    for column in missing:
        parsed.errors.append(CellError(name, 1, column, "required column missing"))
    if unknown or missing:
        return
    reader.fieldnames = header
    for index, raw in enumerate(reader):
        line = index + 2
        if index >= MAX_ROWS:
            parsed.errors.append(CellError(name, line, "-", f"more than {MAX_ROWS} rows"))
            return
        if None in raw:  # more cells than the header has columns
            parsed.errors.append(CellError(name, line, "-", "more cells than columns"))
            continue
        values = _typed(parsed, name, line, raw)
        if values is not None:
            yield _Row(line, values)


def _typed(parsed: _Parsed, name: str, line: int, raw: dict[str, str | None]) -> dict[str, Any]:
    """Cells as the API's JSON would carry them; an empty cell is an absent field."""
    values: dict[str, Any] = {}
    for column, cell in raw.items():
        text = (cell or "").strip()
        if not text:
            continue
        try:
            values[column] = _convert(column, text)
        except ValueError as exc:
            parsed.errors.append(CellError(name, line, column, str(exc)))
    return values


def _convert(column: str, text: str) -> Any:
    if column in _BOOL_FIELDS:
        lowered = text.lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise ValueError(f"{text!r} is not a yes/no value (true/false, 1/0, oui/non)")
    if column in _INT_FIELDS:
        if not re.fullmatch(r"[+-]?\d{1,6}", text):
            raise ValueError(f"{text!r} is not a whole number")
        return int(text)
    if column in _FLOAT_FIELDS:
        try:
            return float(text.replace(",", "."))
        except ValueError:
            raise ValueError(f"{text!r} is not a number") from None
    if column == "languages":
        return [code for code in re.split(r"[;\s|]+", text) if code]
    return text


# --- validating -----------------------------------------------------------------------------


def _schema_errors(
    parsed: _Parsed, name: str, line: int, model: type[BaseModel], values: dict[str, Any]
) -> BaseModel | None:
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        for err in exc.errors():
            column = str(err["loc"][0]) if err["loc"] else "-"
            parsed.errors.append(CellError(name, line, column, err["msg"]))
        return None


def _validate_shelters(parsed: _Parsed) -> dict[str, tuple[int, ShelterCreate]]:
    shelters: dict[str, tuple[int, ShelterCreate]] = {}
    for row in parsed.shelters:
        values = dict(row.values)
        shelter_id = str(values.pop("id", ""))
        if not _ID.fullmatch(shelter_id):
            parsed.errors.append(
                CellError("shelters.csv", row.line, "id", "1 to 40 letters, digits, . _ or -")
            )
        elif shelter_id in shelters:
            first = shelters[shelter_id][0]
            parsed.errors.append(
                CellError("shelters.csv", row.line, "id", f"already on line {first}")
            )
        model = _schema_errors(parsed, "shelters.csv", row.line, ShelterCreate, values)
        if isinstance(model, ShelterCreate) and _ID.fullmatch(shelter_id):
            shelters.setdefault(shelter_id, (row.line, model))
    return shelters


def _validate_rooms(
    parsed: _Parsed, shelters: dict[str, tuple[int, ShelterCreate]], existing: set[str]
) -> list[tuple[int, str, RoomCreate]]:
    rooms: list[tuple[int, str, RoomCreate]] = []
    seen: dict[tuple[str, str], int] = {}
    for row in parsed.rooms:
        values = dict(row.values)
        shelter_id = str(values.pop("shelter_id", ""))
        if shelter_id not in shelters and shelter_id not in existing:
            parsed.errors.append(
                CellError("rooms.csv", row.line, "shelter_id", "no such shelter in either file")
            )
        model = _schema_errors(parsed, "rooms.csv", row.line, RoomCreate, values)
        if not isinstance(model, RoomCreate):
            continue
        for err in room_errors(model.shared, model.sex, model.beds, model.cribs, 0):
            parsed.errors.append(CellError("rooms.csv", row.line, err["loc"][0], err["msg"]))
        key = (shelter_id, model.label)
        if key in seen:
            parsed.errors.append(
                CellError("rooms.csv", row.line, "label", f"already on line {seen[key]}")
            )
        seen[key] = row.line
        rooms.append((row.line, shelter_id, model))
    return rooms


def _existing_shelter_ids(session: Session, territory_id: str) -> set[str]:
    return set(session.scalars(select(Shelter.id).where(Shelter.territory_id == territory_id)))


def _refuse_foreign_ids(
    session: Session,
    parsed: _Parsed,
    shelters: dict[str, tuple[int, ShelterCreate]],
    territory_id: str,
) -> None:
    """An id used by another territory's shelter is refused: the import never changes a
    neighbour's shelter. Ids are the file's own choice, so saying one is taken tells only
    that the string is in use, never where."""
    if not shelters:
        return
    taken = set(
        session.scalars(
            all_territories(
                select(Shelter.id).where(
                    Shelter.id.in_(list(shelters)), Shelter.territory_id != territory_id
                )
            )
        )
    )
    for shelter_id in sorted(taken):
        line = shelters.pop(shelter_id)[0]
        parsed.errors.append(
            CellError("shelters.csv", line, "id", "already used by a shelter of another territory")
        )


# --- writing (lock order: shelters in id order, then rooms in id order) ----------------------


def _apply_shelters(
    session: Session,
    shelters: dict[str, tuple[int, ShelterCreate]],
    counts: ImportCounts,
    territory_id: str,
) -> None:
    ids = sorted(shelters)
    current = lock_shelters_for_change(session, ids)  # the lock order of app.core.locks
    for shelter_id in ids:
        data = shelters[shelter_id][1].model_dump(mode="json")
        shelter = current.get(shelter_id)
        if shelter is None:
            session.add(
                Shelter(id=shelter_id, territory_id=territory_id, **data, version=1, active=True)
            )
            counts.shelters_created += 1
        elif _set_changed(shelter, data):
            counts.shelters_updated += 1
        else:
            counts.shelters_unchanged += 1
    session.flush()


def _apply_rooms(
    session: Session,
    rooms: list[tuple[int, str, RoomCreate]],
    counts: ImportCounts,
    parsed: _Parsed,
) -> None:
    shelter_ids = sorted({shelter_id for _, shelter_id, _ in rooms})
    current = {(r.shelter_id, r.label): r for r in lock_rooms(session, shelter_ids=shelter_ids)}
    held = held_beds_by_room(session, [r.id for r in current.values()]) if current else {}
    for line, shelter_id, model in rooms:
        data = model.model_dump(exclude={"out_of_service", "occupied_beds"})
        room = current.get((shelter_id, model.label))
        if room is None:
            session.add(Room(shelter_id=shelter_id, version=1, **data))
            counts.rooms_created += 1
            continue
        problem = _room_change_problem(room, model, held.get(room.id, 0))
        if problem is not None:
            parsed.errors.append(CellError("rooms.csv", line, problem[0], problem[1]))
        elif _set_changed(room, data):
            counts.rooms_updated += 1
        else:
            counts.rooms_unchanged += 1


def _room_change_problem(room: Room, model: RoomCreate, held: int) -> tuple[str, str] | None:
    """A change the file may not make to an existing room: its kind, or fewer beds than are
    taken tonight (the shelter declines or ends those placements first)."""
    if (room.shared, room.sex) != (model.shared, model.sex):
        return "shared", "an existing room cannot change between private and shared"
    taken = room.occupied_beds + held
    if model.beds < taken:
        return "beds", f"{taken} bed(s) are taken tonight in room {room.label!r}"
    return None


def _set_changed(obj: Shelter | Room, data: dict[str, Any]) -> bool:
    changed = [name for name, value in data.items() if getattr(obj, name) != value]
    for name in changed:
        setattr(obj, name, data[name])
    if changed:
        obj.version += 1
    return bool(changed)
