"""The engine's contract: the problem it reads and the plan it writes.

Field names are the JSON names of ``shared/spec/allocation.md``. Unknown fields are
refused rather than ignored: a misspelt ``avoid`` or ``excluded_shelters`` silently
dropped would put a victim in danger.
"""

from __future__ import annotations

from collections import Counter
from typing import Annotated, Final, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

PROBLEM_FORMAT: Final = "shelter-allocation/1"
PLAN_FORMAT: Final = "shelter-allocation-plan/1"
ADULT_AGE = 18
PRIORITIES = (4, 3, 2, 1)

Id = Annotated[str, Field(min_length=1, max_length=200)]
Latitude = Annotated[float, Field(ge=-90, le=90, allow_inf_nan=False)]
Longitude = Annotated[float, Field(ge=-180, le=180, allow_inf_nan=False)]
Km = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Sex = Literal["F", "M"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Settings(_Strict):
    time_limit_s: Annotated[float, Field(gt=0, le=3600)] = 10.0
    seed: Annotated[int, Field(ge=0, le=2**31 - 1)] = 0
    max_rooms_per_household: Annotated[int, Field(ge=1, le=10)] = 2
    deterministic: bool = False


class Room(_Strict):
    id: Id
    beds: Annotated[int, Field(ge=0, le=10_000)]
    cribs: Annotated[int, Field(ge=0, le=10_000)] = 0
    shared: bool = False
    sex: Sex | None = None
    wheelchair: bool = False

    @model_validator(mode="after")
    def _shared_room_has_sex(self) -> Room:
        if self.shared and self.sex is None:
            raise ValueError("a shared room needs 'sex' ('F' or 'M')")
        return self


class Shelter(_Strict):
    id: Id
    lat: Latitude
    lon: Longitude
    women: bool
    men: bool
    children: bool
    max_boy_age: Annotated[int, Field(ge=0, le=17)] | None = None
    dv_specialised: bool = False
    secure: bool = False
    wheelchair: bool = False
    pets: bool = False
    languages: list[Annotated[str, Field(min_length=1, max_length=35)]] = Field(
        default_factory=list
    )
    rooms: list[Room] = Field(default_factory=list)
    #: The shelter is somewhere within ``margin_km`` of (lat, lon), e.g. a confidential shelter
    #: given at its published cell centre. Rules 6 and 8 hold for every point of that disc;
    #: km (rule 5, objective, plan) are measured from (lat, lon). 0: the position is exact.
    margin_km: Km = 0.0


class Point(_Strict):
    lat: Latitude
    lon: Longitude


class Member(_Strict):
    age: Annotated[int, Field(ge=0, le=120)]
    sex: Sex

    @property
    def is_adult(self) -> bool:
        return self.age >= ADULT_AGE


class Needs(_Strict):
    dv_specialised: bool = False
    secure: bool = False
    wheelchair: bool = False
    pets: bool = False
    language: Annotated[str, Field(min_length=1, max_length=35)] | None = None


class AvoidZone(_Strict):
    lat: Latitude
    lon: Longitude
    km: Km


class KeepApart(_Strict):
    household: Id
    km: Km


class Household(_Strict):
    id: Id
    priority: Annotated[int, Field(ge=1, le=4)]
    waiting_since: AwareDatetime
    origin: Point
    max_km: Km | None = None
    members: Annotated[list[Member], Field(min_length=1, max_length=30)]
    needs: Needs = Field(default_factory=Needs)
    avoid: list[AvoidZone] = Field(default_factory=list)
    excluded_shelters: list[Id] = Field(default_factory=list)
    keep_apart: list[KeepApart] = Field(default_factory=list)

    @property
    def size(self) -> int:
        return len(self.members)

    @property
    def needs_bed(self) -> int:
        """Members who need a real bed: everyone aged 3 or more (rule 2)."""
        return sum(1 for m in self.members if m.age >= 3)

    @property
    def is_single_adult(self) -> bool:
        return len(self.members) == 1 and self.members[0].is_adult


def _first_duplicate(ids: list[str]) -> str | None:
    counts = Counter(ids)
    return next((i for i in ids if counts[i] > 1), None)


class Problem(_Strict):
    format: Literal["shelter-allocation/1"] = PROBLEM_FORMAT
    settings: Settings = Field(default_factory=Settings)
    shelters: list[Shelter]
    households: list[Household]

    @model_validator(mode="after")
    def _ids_are_unique_and_known(self) -> Problem:
        dup = _first_duplicate([s.id for s in self.shelters])
        if dup is not None:
            raise ValueError(f"shelters: duplicate id {dup!r}")
        dup = _first_duplicate([r.id for s in self.shelters for r in s.rooms])
        if dup is not None:
            raise ValueError(
                f"rooms: duplicate room id {dup!r} (room ids are unique across the problem)"
            )
        dup = _first_duplicate([h.id for h in self.households])
        if dup is not None:
            raise ValueError(f"households: duplicate id {dup!r}")
        shelter_ids = {s.id for s in self.shelters}
        household_ids = {h.id for h in self.households}
        for i, h in enumerate(self.households):
            for j, sid in enumerate(h.excluded_shelters):
                if sid not in shelter_ids:
                    raise ValueError(
                        f"households[{i}].excluded_shelters[{j}]: unknown shelter {sid!r}"
                    )
            for j, pair in enumerate(h.keep_apart):
                if pair.household not in household_ids:
                    raise ValueError(
                        f"households[{i}].keep_apart[{j}].household: unknown household "
                        f"{pair.household!r}"
                    )
                if pair.household == h.id:
                    raise ValueError(
                        f"households[{i}].keep_apart[{j}].household: a household cannot be "
                        "kept apart from itself"
                    )
        return self


# --- plan ---------------------------------------------------------------------------------

PlanStatus = Literal["optimal", "feasible", "no_solution"]
UnplacedCode = Literal["no_eligible_shelter", "no_room_fits", "capacity_taken", "timeout"]


class Assignment(BaseModel):
    household: str
    shelter: str
    rooms: list[str]
    km: float


class Unplaced(BaseModel):
    household: str
    code: UnplacedCode
    detail: str


class Objective(BaseModel):
    people_placed_by_priority: dict[str, int]
    total_km: float = 0.0
    wasted_beds: int = 0


class Bound(BaseModel):
    people_placed_by_priority: dict[str, int]


#: CP-SAT's status of a stage's search, lower case.
CpSatStatus = Literal["optimal", "feasible", "infeasible", "model_invalid", "unknown"]
#: How a stage ended without (or after) a search of its own: the plan was already at the
#: LP bound or at U_t; the fixed-set LP was integral, rounded, or the plan was kept.
StageEnd = Literal[
    "at_lp_bound", "at_upper_bound", "lp-integral", "window-optimal", "lp-rounded", "kept"
]
StageStatus = Literal[CpSatStatus, StageEnd]
#: What ``Stats.bounded`` may count.
BoundedKind = Literal["room_sets_pairs", "shelters_per_household"]


class StageRecord(BaseModel):
    """One search stage of ``solve``, in the order run (``docs/engine.md``, Stages)."""

    name: str  # e.g. "people1-lp-1-vertices+5-nearest", "fairness-sub", "km-fixed-set"
    status: StageStatus
    value: int | None = None  # the plan's value on the stage's objective after it
    wall_s: float  # wall seconds the stage used
    allowed_s: float | None = None  # wall seconds it was allowed (None: no CP-SAT limit)
    at_s: float  # seconds since ``solve`` started, at its end
    #: CP-SAT's deterministic time of the stage (work units, load-independent; None: no
    #: CP-SAT search). Deterministic mode budgets these, not seconds.
    work: float | None = None


class Stats(BaseModel):
    """How the plan was found. Baselines (benchmarks) add their own fields (extra)."""

    model_config = ConfigDict(extra="allow")
    wall_s: float
    solver: str
    candidates: int = 0  # Booleans of the model (household × shelter × room set)
    pruned: bool = False  # only each household's nearest shelters were modelled
    stages: list[StageRecord] = Field(default_factory=list)
    deterministic: bool = False
    #: Deterministic mode only: the wall clock, not the work budget, stopped a stage, so a
    #: replay on a less loaded machine may give another plan.
    deterministic_cut_by_wall_clock: bool = False
    lp_bound: bool = False  # an LP-based bound (direct or Lagrangian) was available
    #: Least total km (0.01 km steps) of any plan placing exactly this plan's households.
    km_lower_bound: float | None = None
    #: What was bounded to keep the model's size in check, and how often (empty: nothing;
    #: "room_sets_pairs": pairs whose room sets were cut, "shelters_per_household": pruned).
    bounded: dict[BoundedKind, int] = Field(default_factory=dict)
    #: Seconds of the time limit spent before ``solve`` was called (the CLI's start-up:
    #: interpreter, imports, reading the problem), counted in the limit; 0 from the service.
    started_before_s: float = 0.0


class Plan(BaseModel):
    format: Literal["shelter-allocation-plan/1"] = PLAN_FORMAT
    status: PlanStatus
    assignments: list[Assignment]
    unplaced: list[Unplaced]
    objective: Objective
    bound: Bound
    stats: Stats


def describe_validation_error(exc: ValidationError) -> str:
    """One line naming the first bad field, e.g. ``households[3].members: ...``."""
    err = exc.errors(include_url=False)[0]
    path = ""
    for part in err["loc"]:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += ("." if path else "") + str(part)
    msg = str(err["msg"]).removeprefix("Value error, ")
    if err["type"] == "missing":
        msg = "required field is missing"
    if not path:
        return msg
    # Model-level checks already name their field inside the message.
    if msg.startswith(("shelters", "rooms", "households")):
        return msg
    return f"{path}: {msg}"


__all__ = [
    "ADULT_AGE",
    "PLAN_FORMAT",
    "PRIORITIES",
    "PROBLEM_FORMAT",
    "Assignment",
    "AvoidZone",
    "Bound",
    "BoundedKind",
    "CpSatStatus",
    "Household",
    "KeepApart",
    "Member",
    "Needs",
    "Objective",
    "Plan",
    "Point",
    "Problem",
    "Room",
    "Settings",
    "Shelter",
    "StageEnd",
    "StageRecord",
    "StageStatus",
    "Stats",
    "Unplaced",
    "describe_validation_error",
]
