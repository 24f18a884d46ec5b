"""The fixed suite of nights the engine is tuned and judged on (issue 10, section 1).

    .venv/bin/python -m benchmarks.suite.nights          # (re)write nights/*.json + manifest

Each night is a problem JSON stored in ``benchmarks/suite/nights/`` (compact, defaults left
out) so the suite does not depend on the generator staying the same; ``manifest.json`` says
how each was made. Most are ``allocation.tools.generate`` nights of a département's size (150
shelters, 600 households) over several regions, seeds and geographic spreads; the others are
built here to hurt: one shelter with 120 distinct rooms, many keep-apart pairs, large
families, many wheelchair users, demand far above and just above supply, and 80 rooms that
differ only by their cribs. Rebuilding is deterministic (fixed seeds, no clock).
"""

from __future__ import annotations

import json
import random
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from allocation.models import Problem
from allocation.tools.generate import generate_problem

SUITE_DIR = Path(__file__).resolve().parent
NIGHTS_DIR = SUITE_DIR / "nights"
MANIFEST = SUITE_DIR / "manifest.json"
EXAMPLES = Path("/work/shared/examples")

Night = dict[str, Any]  # a problem as JSON data


@dataclass(frozen=True)
class Spec:
    name: str
    size: str  # "departement" or "small"
    how: str  # one sentence: how the night was made
    build: Callable[[], Night]


def generated(shelters: int, households: int, seed: int, region: str) -> Night:
    problem = generate_problem(shelters, households, seed=seed, region=region, time_limit_s=10)
    return json.loads(problem.model_dump_json())


def spread(night: Night, factor: float) -> Night:
    """Scale every point's offset from the shelters' centroid (denser below 1, wider above)."""
    lat0 = sum(s["lat"] for s in night["shelters"]) / len(night["shelters"])
    lon0 = sum(s["lon"] for s in night["shelters"]) / len(night["shelters"])

    def move(p: dict[str, Any]) -> None:
        p["lat"] = round(lat0 + (p["lat"] - lat0) * factor, 5)
        p["lon"] = round(lon0 + (p["lon"] - lon0) * factor, 5)

    for s in night["shelters"]:
        move(s)
    for h in night["households"]:
        move(h["origin"])
        for zone in h["avoid"]:
            move(zone)
    return night


def big_shelter(seed: int) -> Night:
    """A hotel-like shelter with 120 free private rooms, every one a distinct beds/cribs size."""
    night = generated(150, 600, seed, "hainaut")
    rooms = [
        {
            "id": f"BIG-R{b}-{c}",
            "beds": b,
            "cribs": c,
            "shared": False,
            "wheelchair": (b + c) % 3 == 0,
        }
        for b in range(1, 13)
        for c in range(10)
    ]
    night["shelters"].append(
        {
            "id": "BIG",
            "lat": 50.3575,
            "lon": 3.5240,
            "women": True,
            "men": True,
            "children": True,
            "wheelchair": True,
            "pets": True,
            "languages": ["fr", "ar"],
            "rooms": rooms,
        }
    )
    return night


def many_pairs(seed: int, pairs: int) -> Night:
    """``pairs`` extra keep-apart declarations between random households (0–50 km)."""
    night = generated(150, 600, seed, "hainaut")
    rng = random.Random(f"suite/pairs/{seed}")
    hh = night["households"]
    for _ in range(pairs):
        a, b = rng.sample(range(len(hh)), 2)
        hh[a]["keep_apart"].append(
            {"household": hh[b]["id"], "km": rng.choice((0, 5, 10, 20, 30, 50))}
        )
    return night


def large_families(seed: int) -> Night:
    """Half the households become families of 5 to 10, many with babies."""
    night = generated(150, 600, seed, "hainaut")
    rng = random.Random(f"suite/large/{seed}")
    for h in night["households"]:
        if rng.random() < 0.5 and not h["keep_apart"]:
            mother = rng.randint(22, 45)
            kids = [
                {"age": rng.choice((0, 0, 1, 2, 4, 7, 10, 13, 16)), "sex": rng.choice("FM")}
                for _ in range(rng.randint(3, 8))
            ]
            h["members"] = [{"age": mother, "sex": "F"}, {"age": mother + 3, "sex": "M"}, *kids]
    return night


def wheelchair_users(seed: int, share: float) -> Night:
    night = generated(150, 600, seed, "hainaut")
    rng = random.Random(f"suite/wheelchair/{seed}")
    for h in night["households"]:
        if rng.random() < share:
            h["needs"]["wheelchair"] = True
    return night


def scarce(seed: int, keep: float) -> Night:
    """Demand far above supply: only a ``keep`` share of the free rooms stays free."""
    night = generated(150, 600, seed, "hainaut")
    rng = random.Random(f"suite/scarce/{seed}")
    for s in night["shelters"]:
        s["rooms"] = [r for r in s["rooms"] if rng.random() < keep]
    return night


def near_enough(seed: int, ratio: float) -> Night:
    """Demand just above supply: copies of free rooms until beds reach ``ratio`` × people."""
    night = generated(150, 600, seed, "hainaut")
    rng = random.Random(f"suite/near/{seed}")
    people = sum(len(h["members"]) for h in night["households"])
    beds = sum(r["beds"] for s in night["shelters"] for r in s["rooms"])
    with_rooms = [s for s in night["shelters"] if s["rooms"]]
    n = 0
    while beds < ratio * people:
        s = rng.choice(with_rooms)
        room = dict(rng.choice(s["rooms"]))
        n += 1
        room["id"] = f"{s['id']}-X{n}"
        s["rooms"].append(room)
        beds += room["beds"]
    return night


def crib_rooms() -> Night:
    """6 households and one shelter of 80 rooms that differ only by their cribs."""
    night = generated(1, 6, 3, "hainaut")
    s = night["shelters"][0]
    s.update(
        women=True,
        men=True,
        children=True,
        max_boy_age=None,
        dv_specialised=True,
        secure=True,
        wheelchair=True,
        pets=True,
    )
    s["rooms"] = [
        {"id": f"C{c}", "beds": 2, "cribs": c, "shared": False, "wheelchair": True}
        for c in range(80)
    ]
    for h in night["households"]:
        h["max_km"] = None
        h["avoid"] = []
        h["excluded_shelters"] = []
    return night


def example(name: str) -> Night:
    """A shared example (``/work/shared/examples``), whose expected optimum is known."""
    data: Night = json.loads((EXAMPLES / f"{name}.json").read_text())
    return data


def _specs() -> list[Spec]:
    dep = "departement"
    specs: list[Spec] = []
    for region, seeds in (
        ("hainaut", range(1, 7)),
        ("nord", range(1, 5)),
        ("idf", range(1, 5)),
        ("france", range(1, 3)),
    ):
        for seed in seeds:
            specs.append(
                Spec(
                    f"{region}-{seed}",
                    dep,
                    f"generate --shelters 150 --households 600 --region {region} --seed {seed}",
                    lambda r=region, s=seed: generated(150, 600, s, r),
                )
            )
    for region, seed, factor in (("hainaut", 7, 0.4), ("idf", 5, 0.4), ("nord", 5, 2.0)):
        specs.append(
            Spec(
                f"{region}-{seed}-spread{factor:g}",
                dep,
                f"generate --shelters 150 --households 600 --region {region} --seed {seed}, every "
                f"point's offset from the shelters' centroid scaled by {factor:g}",
                lambda r=region, s=seed, f=factor: spread(generated(150, 600, s, r), f),
            )
        )
    specs += [
        Spec(
            "big-shelter",
            dep,
            "hainaut seed 21 plus one shelter with 120 free private rooms, "
            "all of distinct sizes (1-12 beds x 0-9 cribs)",
            lambda: big_shelter(21),
        ),
        Spec(
            "keep-apart",
            dep,
            "hainaut seed 22 plus 300 random keep-apart pairs (0-50 km)",
            lambda: many_pairs(22, 300),
        ),
        Spec(
            "large-families",
            dep,
            "hainaut seed 23, half the households replaced by families "
            "of 5-10 (two parents, 3-8 children, many under 3)",
            lambda: large_families(23),
        ),
        Spec(
            "wheelchair",
            dep,
            "hainaut seed 24, 30 % of households need a wheelchair room",
            lambda: wheelchair_users(24, 0.3),
        ),
        Spec(
            "demand-far-above",
            dep,
            "hainaut seed 25, only 30 % of the free rooms kept",
            lambda: scarce(25, 0.3),
        ),
        Spec(
            "demand-just-above",
            dep,
            "hainaut seed 26, free rooms copied until beds reach 97 % of the people",
            lambda: near_enough(26, 0.97),
        ),
        Spec(
            "crib-rooms",
            "small",
            "6 households (hainaut seed 3) and one shelter of 80 rooms "
            "of 2 beds and 0-79 cribs; no distance or zone limits",
            crib_rooms,
        ),
        Spec(
            "small-hainaut-1",
            "small",
            "generate --shelters 30 --households 120 --region hainaut --seed 1",
            lambda: generated(30, 120, 1, "hainaut"),
        ),
        Spec(
            "small-nord-2",
            "small",
            "generate --shelters 40 --households 160 --region nord --seed 2",
            lambda: generated(40, 160, 2, "nord"),
        ),
        Spec(
            "small-idf-3",
            "small",
            "generate --shelters 20 --households 80 --region idf --seed 3",
            lambda: generated(20, 80, 3, "idf"),
        ),
    ]
    for name in ("nord-small", "nord-medium"):
        specs.append(
            Spec(
                f"example-{name}",
                "small",
                f"shared/examples/{name}.json as given",
                lambda n=name: example(n),
            )
        )
    return specs


SPECS = _specs()


def compact(night: Night) -> str:
    """Validated, defaults and nulls left out, no spaces: a few hundred KB per night."""
    problem = Problem.model_validate(night)
    return problem.model_dump_json(exclude_defaults=True)


def build(names: set[str] | None = None) -> None:
    NIGHTS_DIR.mkdir(exist_ok=True)
    manifest = []
    for spec in SPECS:
        path = NIGHTS_DIR / f"{spec.name}.json"
        if names is None or spec.name in names:
            path.write_text(compact(spec.build()) + "\n")
        p = Problem.model_validate_json(path.read_text())
        manifest.append(
            {
                "name": spec.name,
                "size": spec.size,
                "how": spec.how,
                "file": f"nights/{path.name}",
                "shelters": len(p.shelters),
                "rooms": sum(len(s.rooms) for s in p.shelters),
                "beds": sum(r.beds for s in p.shelters for r in s.rooms),
                "households": len(p.households),
                "people": sum(h.size for h in p.households),
                "keep_apart": sum(len(h.keep_apart) for h in p.households),
            }
        )
        if spec.name.startswith("example-"):  # its own independent MIP's optimum, to cross-check
            expected = EXAMPLES / f"{spec.name.removeprefix('example-')}.expected.json"
            manifest[-1]["expected_level1"] = json.loads(expected.read_text())["level1_optimum"]
        print(f"{spec.name}: {path.stat().st_size // 1024} KB", file=sys.stderr)
    MANIFEST.write_text(json.dumps({"nights": manifest}, indent=1) + "\n")


def load_manifest() -> list[dict[str, Any]]:
    nights: list[dict[str, Any]] = json.loads(MANIFEST.read_text())["nights"]
    return nights


def load_night(name: str) -> Problem:
    return Problem.model_validate_json((NIGHTS_DIR / f"{name}.json").read_text())


if __name__ == "__main__":
    build(set(sys.argv[1:]) or None)
    shutil.rmtree(NIGHTS_DIR / "__pycache__", ignore_errors=True)
