"""Realistic random problems: one night of an SIAO's 115 desk, at any size.

Used by ``python -m allocation generate``, by the benchmarks and by the tests. Shelters
sit around real communes of a region (weighted by how much of the region's emergency
capacity each town holds); households arrive from the same towns. The mix follows what a
night operator sees: many single men and women, mothers with children (teenage boys
included), some large families, DV victims needing a specialised or secure shelter, some
of them with the perpetrator also waiting (keep-apart pair, avoid zone around the home),
wheelchair users, pets, people who speak little French. Demand exceeds supply, worst for
large families: that is the situation the engine exists for.

Deterministic per seed: one ``random.Random(seed)``, no clock, no global state.
"""

from __future__ import annotations

import argparse
import math
import random
import sys
from datetime import datetime, timedelta, timezone
from typing import Any, NoReturn

from allocation.models import Problem

# (commune, lat, lon, weight): weight ~ the share of the area's shelter places there.
Commune = tuple[str, float, float, float]

REGIONS: dict[str, list[Commune]] = {
    # Hauts-de-France, mostly Nord-Pas-de-Calais (the SIAO of the domain story).
    "nord": [
        ("Lille", 50.6292, 3.0573, 30),
        ("Roubaix", 50.6942, 3.1746, 10),
        ("Tourcoing", 50.7239, 3.1612, 8),
        ("Villeneuve-d'Ascq", 50.6233, 3.1450, 5),
        ("Armentières", 50.6880, 2.8810, 3),
        ("Dunkerque", 51.0343, 2.3768, 9),
        ("Calais", 50.9513, 1.8587, 8),
        ("Boulogne-sur-Mer", 50.7264, 1.6147, 5),
        ("Saint-Omer", 50.7500, 2.2522, 3),
        ("Hazebrouck", 50.7237, 2.5385, 2),
        ("Valenciennes", 50.3570, 3.5235, 8),
        ("Denain", 50.3290, 3.3950, 3),
        ("Maubeuge", 50.2775, 3.9734, 4),
        ("Douai", 50.3714, 3.0800, 5),
        ("Cambrai", 50.1760, 3.2356, 4),
        ("Arras", 50.2910, 2.7775, 5),
        ("Lens", 50.4320, 2.8333, 5),
        ("Liévin", 50.4228, 2.7781, 3),
        ("Hénin-Beaumont", 50.4217, 2.9508, 3),
        ("Béthune", 50.5303, 2.6408, 4),
        ("Avesnes-sur-Helpe", 50.1233, 3.9275, 1),
        ("Amiens", 49.8941, 2.2958, 7),
        ("Saint-Quentin", 49.8465, 3.2876, 4),
        ("Beauvais", 49.4295, 2.0807, 3),
        ("Compiègne", 49.4179, 2.8261, 3),
        ("Laon", 49.5641, 3.6199, 2),
        ("Soissons", 49.3817, 3.3236, 2),
        ("Abbeville", 50.1054, 1.8332, 2),
    ],
    # The Hainaut SIAO: Valenciennes, Maubeuge, Cambrai, Avesnois (a département's night).
    "hainaut": [
        ("Valenciennes", 50.3570, 3.5235, 12),
        ("Anzin", 50.3720, 3.5050, 2),
        ("Denain", 50.3290, 3.3950, 4),
        ("Saint-Amand-les-Eaux", 50.4475, 3.4281, 2),
        ("Condé-sur-l'Escaut", 50.4500, 3.5900, 1),
        ("Maubeuge", 50.2775, 3.9734, 6),
        ("Jeumont", 50.2947, 4.1000, 1),
        ("Aulnoye-Aymeries", 50.2033, 3.8364, 1),
        ("Avesnes-sur-Helpe", 50.1233, 3.9275, 1),
        ("Fourmies", 50.0153, 4.0547, 1),
        ("Cambrai", 50.1760, 3.2356, 5),
        ("Caudry", 50.1250, 3.4128, 1),
        ("Le Cateau-Cambrésis", 50.1039, 3.5444, 1),
        ("Douai", 50.3714, 3.0800, 5),
    ],
    "idf": [
        ("Paris", 48.8566, 2.3522, 40),
        ("Saint-Denis", 48.9362, 2.3574, 6),
        ("Aubervilliers", 48.9146, 2.3821, 3),
        ("Montreuil", 48.8638, 2.4485, 5),
        ("Bobigny", 48.9077, 2.4397, 3),
        ("Nanterre", 48.8924, 2.2071, 4),
        ("Boulogne-Billancourt", 48.8397, 2.2399, 3),
        ("Argenteuil", 48.9472, 2.2467, 4),
        ("Créteil", 48.7904, 2.4556, 4),
        ("Versailles", 48.8049, 2.1204, 3),
        ("Massy", 48.7309, 2.2713, 2),
        ("Évry-Courcouronnes", 48.6295, 2.4410, 3),
        ("Cergy", 49.0364, 2.0761, 3),
        ("Sarcelles", 48.9973, 2.3780, 2),
        ("Mantes-la-Jolie", 48.9908, 1.7172, 2),
        ("Meaux", 48.9601, 2.8788, 2),
        ("Melun", 48.5421, 2.6554, 2),
        ("Étampes", 48.4343, 2.1615, 1),
        ("Fontainebleau", 48.4047, 2.7016, 1),
    ],
    # National stress size: the big cities of metropolitan France.
    "france": [
        ("Paris", 48.8566, 2.3522, 40),
        ("Marseille", 43.2965, 5.3698, 14),
        ("Lyon", 45.7640, 4.8357, 13),
        ("Toulouse", 43.6047, 1.4442, 9),
        ("Nice", 43.7102, 7.2620, 6),
        ("Nantes", 47.2184, -1.5536, 7),
        ("Montpellier", 43.6108, 3.8767, 6),
        ("Strasbourg", 48.5734, 7.7521, 7),
        ("Bordeaux", 44.8378, -0.5792, 8),
        ("Lille", 50.6292, 3.0573, 9),
        ("Rennes", 48.1173, -1.6778, 5),
        ("Reims", 49.2583, 4.0317, 3),
        ("Le Havre", 49.4944, 0.1079, 3),
        ("Rouen", 49.4432, 1.0999, 4),
        ("Saint-Étienne", 45.4397, 4.3872, 3),
        ("Toulon", 43.1242, 5.9280, 3),
        ("Grenoble", 45.1885, 5.7245, 4),
        ("Dijon", 47.3220, 5.0415, 3),
        ("Angers", 47.4784, -0.5632, 3),
        ("Nîmes", 43.8367, 4.3601, 3),
        ("Clermont-Ferrand", 45.7772, 3.0870, 3),
        ("Le Mans", 48.0061, 0.1996, 2),
        ("Aix-en-Provence", 43.5297, 5.4474, 2),
        ("Brest", 48.3904, -4.4861, 2),
        ("Tours", 47.3941, 0.6848, 3),
        ("Amiens", 49.8941, 2.2958, 3),
        ("Limoges", 45.8336, 1.2611, 2),
        ("Perpignan", 42.6887, 2.8948, 3),
        ("Metz", 49.1193, 6.1757, 3),
        ("Nancy", 48.6921, 6.1844, 3),
        ("Besançon", 47.2378, 6.0241, 2),
        ("Orléans", 47.9030, 1.9093, 3),
        ("Mulhouse", 47.7508, 7.3359, 3),
        ("Caen", 49.1829, -0.3707, 3),
        ("Avignon", 43.9493, 4.8055, 2),
        ("Poitiers", 46.5802, 0.3404, 2),
        ("Calais", 50.9513, 1.8587, 3),
        ("Valenciennes", 50.3570, 3.5235, 2),
        ("Bayonne", 43.4929, -1.4748, 2),
        ("Pau", 43.2951, -0.3708, 2),
        ("La Rochelle", 46.1603, -1.1511, 1),
        ("Ajaccio", 41.9192, 8.7386, 1),
    ],
}

# Share of each kind of shelter, per region. Regions with big cities lean on hotels
# (many small free rooms), which is also what makes their room counts per shelter higher:
# ~3.0 free rooms per shelter in the Hainaut, ~3.3 in the Nord, ~3.5 nationally.
KINDS = ("chu", "chu_men", "chu_women", "chrs", "dv", "mother_child", "hotel", "perp", "full")
KIND_MIX: dict[str, tuple[float, ...]] = {
    "hainaut": (0.20, 0.10, 0.05, 0.23, 0.08, 0.06, 0.21, 0.02, 0.05),
    "nord": (0.19, 0.09, 0.05, 0.21, 0.08, 0.06, 0.28, 0.02, 0.02),
    "idf": (0.17, 0.09, 0.05, 0.16, 0.07, 0.05, 0.39, 0.01, 0.01),
    "france": (0.17, 0.09, 0.05, 0.16, 0.08, 0.05, 0.36, 0.02, 0.02),
}

# Languages a night operator meets besides French, most frequent first.
LANGUAGES = ("ar", "en", "ro", "uk", "ps", "ti", "ru", "fa", "so", "es", "pt", "ka", "sq")
LANGUAGE_WEIGHTS = (14, 10, 8, 7, 5, 5, 4, 4, 3, 3, 2, 2, 2)

# "Tonight": fixed so that a seed always yields the same file.
TONIGHT = datetime(2026, 11, 28, 22, 0, tzinfo=timezone(timedelta(hours=1)))

KM_PER_DEG_LAT = 111.2
MAX_KM_CHOICES = (20, 25, 30, 40, 50, 60, 80, 100)
PEOPLE_PER_BED = 1.25  # demand over free beds, before eligibility makes it worse
MAX_SHELTERS = 200_000
MAX_HOUSEHOLDS = 500_000


def _pick_language(rng: random.Random) -> str:
    return rng.choices(LANGUAGES, weights=LANGUAGE_WEIGHTS)[0]


class _Geo:
    """Samples points around the communes of a region."""

    def __init__(self, rng: random.Random, communes: list[Commune]) -> None:
        self.rng = rng
        self.communes = communes
        self.cum = []
        total = 0.0
        for c in communes:
            total += c[3]
            self.cum.append(total)

    def commune(self) -> int:
        return self.rng.choices(range(len(self.communes)), cum_weights=self.cum)[0]

    def around(self, index: int, spread: float = 1.0) -> tuple[float, float]:
        _, lat, lon, weight = self.communes[index]
        # Bigger towns spread wider: ~2 km for a small town, ~4 km for Paris.
        sigma = (1.5 + 0.4 * math.sqrt(weight)) * spread
        return self.offset(lat, lon, self.rng.gauss(0, sigma), self.rng.gauss(0, sigma))

    @staticmethod
    def offset(lat: float, lon: float, north_km: float, east_km: float) -> tuple[float, float]:
        new_lat = lat + north_km / KM_PER_DEG_LAT
        new_lon = lon + east_km / (KM_PER_DEG_LAT * math.cos(math.radians(lat)))
        return round(new_lat, 5), round(new_lon, 5)


# --- shelters -----------------------------------------------------------------------------


def _private_beds(rng: random.Random, kind: str) -> tuple[int, int]:
    """(beds, cribs) of one free private room of a shelter of this kind."""
    if kind == "hotel":
        beds = rng.choices((1, 2, 3, 4, 5), weights=(40, 33, 15, 9, 3))[0]
        cribs = 1 if beds >= 2 and rng.random() < 0.3 else 0
    elif kind in ("dv", "chrs", "chu_women"):
        beds = rng.choices((1, 2, 3, 4, 5, 6), weights=(30, 25, 20, 15, 7, 3))[0]
        cribs = rng.choices((0, 1, 2), weights=(55, 35, 10))[0]
    elif kind == "mother_child":
        beds = rng.choices((1, 2, 3, 4), weights=(35, 35, 20, 10))[0]
        cribs = rng.choices((0, 1, 2), weights=(20, 55, 25))[0]
    elif kind == "chu":  # the few family rooms of an emergency centre
        beds = rng.choices((2, 3, 4, 5, 6), weights=(15, 25, 30, 20, 10))[0]
        cribs = 1 if rng.random() < 0.4 else 0
    else:  # single rooms: perpetrator programme, men's CHU
        beds, cribs = 1, 0
    return beds, cribs


def _shelter(rng: random.Random, sid: str, lat: float, lon: float, kind: str) -> dict[str, Any]:
    wheelchair = rng.random() < (0.3 if kind == "hotel" else 0.2)
    pets = rng.random() < {"hotel": 0.25, "chu": 0.12, "chu_men": 0.15}.get(kind, 0.04)
    s: dict[str, Any] = {
        "id": sid,
        "lat": lat,
        "lon": lon,
        "women": True,
        "men": True,
        "children": True,
        "max_boy_age": None,
        "dv_specialised": False,
        "secure": False,
        "wheelchair": wheelchair,
        "pets": pets,
    }
    langs = ["fr"]
    for _ in range(rng.choices((0, 1, 2, 3), weights=(45, 30, 18, 7))[0]):
        lang = _pick_language(rng)
        if lang not in langs:
            langs.append(lang)
    s["languages"] = langs

    dorms, n_private = _kind_rooms(rng, s, kind)
    s["rooms"] = _free_rooms(rng, sid, kind, wheelchair, dorms, n_private)
    return s


def _kind_rooms(rng: random.Random, s: dict[str, Any], kind: str) -> tuple[list[str], int]:
    """The kind's rules (who it takes) into ``s``; its dorms' sexes and private rooms."""
    # (shared sex) for each free dorm tonight.
    dorms: list[str] = []
    n_private = 0
    if kind == "chu":
        dorms = ["M"] * rng.choice((1, 1, 2)) + ["F"] * rng.choice((0, 1, 1))
        n_private = rng.choice((0, 0, 1, 1, 2, 3))
    elif kind == "chu_men":
        s.update(women=False, children=False)
        dorms = ["M"] * rng.choice((1, 2, 2, 3))
        n_private = rng.choice((0, 0, 1, 2))
    elif kind == "chu_women":
        s.update(men=False, max_boy_age=rng.choice((10, 12, 14, 17, None)))
        dorms = ["F"] * rng.choice((1, 1, 2))
        n_private = rng.choice((0, 1, 2, 3))
    elif kind == "chrs":
        if rng.random() < 0.25:  # women-only CHRS
            s.update(men=False, max_boy_age=rng.choice((12, 14, 16, None)))
        n_private = rng.choice((1, 2, 2, 3, 3, 4, 4))
        if rng.random() < 0.15:
            dorms = [rng.choice("MF")]
    elif kind == "dv":
        s.update(
            men=False,
            max_boy_age=rng.choice((12, 13, 14, 15)),
            dv_specialised=True,
            secure=rng.random() < 0.7,
            pets=rng.random() < 0.1,
        )
        n_private = rng.choice((1, 2, 2, 3, 3, 4, 4))
    elif kind == "mother_child":
        s.update(
            men=False,
            max_boy_age=rng.choice((3, 3, 6, 10)),
            dv_specialised=rng.random() < 0.2,
        )
        n_private = rng.choice((1, 2, 2, 3, 3))
    elif kind == "hotel":
        n_private = rng.choice((2, 3, 3, 4, 4, 5, 5, 6, 7, 8))
    elif kind == "perp":  # accommodation for evicted perpetrators
        s.update(women=False, children=False)
        n_private = rng.choice((1, 1, 2, 3))
    # kind == "full": listed, but nothing free tonight.

    return dorms, n_private


def _free_rooms(
    rng: random.Random, sid: str, kind: str, wheelchair: bool, dorms: list[str], n_private: int
) -> list[dict[str, Any]]:
    rooms: list[dict[str, Any]] = []
    for sex in dorms:
        free = rng.choices(range(1, 9), weights=(12, 16, 16, 14, 12, 10, 8, 6))[0]
        if sex == "F":
            free = min(free, 5)
        rooms.append(
            {
                "id": f"{sid}-R{len(rooms) + 1}",
                "beds": free,
                "cribs": 0,
                "shared": True,
                "sex": sex,
                "wheelchair": wheelchair and rng.random() < 0.4,
            }
        )
    first_private = len(rooms)
    for _ in range(n_private):
        beds, cribs = _private_beds(rng, kind)
        rooms.append(
            {
                "id": f"{sid}-R{len(rooms) + 1}",
                "beds": beds,
                "cribs": cribs,
                "shared": False,
                "wheelchair": wheelchair and rng.random() < 0.35,
            }
        )
    # An accessible shelter has at least one accessible room free when it has any.
    private = rooms[first_private:]
    if wheelchair and private and not any(r["wheelchair"] for r in private):
        rooms[rng.randrange(first_private, len(rooms))]["wheelchair"] = True
    return rooms


def _trim_beds(rng: random.Random, shelters: list[dict[str, Any]], target_beds: int) -> None:
    """Take free beds away, one at a time from a random room, until ``target_beds`` remain.

    Keeps demand above supply at every size (a room with one bed less: a family arrived
    this afternoon). Rooms are never emptied, so the room counts stay as drawn.
    """
    rooms = [r for s in shelters for r in s["rooms"] if r["beds"] >= 2]
    excess = sum(r["beds"] for s in shelters for r in s["rooms"]) - target_beds
    while excess > 0 and rooms:
        i = rng.randrange(len(rooms))
        room = rooms[i]
        room["beds"] -= 1
        if room["cribs"] > room["beds"]:
            room["cribs"] = room["beds"]
        excess -= 1
        if room["beds"] < 2:
            rooms[i] = rooms[-1]
            rooms.pop()


# --- households ---------------------------------------------------------------------------


def _adult_age(rng: random.Random, low: int = 18, high: int = 75) -> int:
    # Most people at the 115 are 20-55; a few older.
    return max(low, min(high, int(rng.triangular(low, high, 32))))


def _children(rng: random.Random, n: int, parent_age: int) -> list[dict[str, Any]]:
    oldest = max(0, min(17, parent_age - 16))
    kids = []
    for _ in range(n):
        # Babies and small children are the most frequent; teenagers happen (and matter:
        # a boy of 15 is refused by many women's shelters).
        age = min(oldest, int(rng.triangular(0, 18, 2)))
        kids.append({"age": age, "sex": rng.choice("FM")})
    return kids


def _members(rng: random.Random, kind: str) -> list[dict[str, Any]]:
    if kind == "man":
        return [{"age": _adult_age(rng), "sex": "M"}]
    if kind == "woman":
        return [{"age": _adult_age(rng), "sex": "F"}]
    if kind == "couple":
        return [{"age": _adult_age(rng), "sex": "F"}, {"age": _adult_age(rng), "sex": "M"}]
    if kind in ("mother", "dv_mother"):
        age = _adult_age(rng, 18, 50)
        n = rng.choices((1, 2, 3, 4), weights=(40, 33, 18, 9))[0]
        return [{"age": age, "sex": "F"}, *_children(rng, n, age)]
    if kind == "father":
        age = _adult_age(rng, 20, 55)
        return [{"age": age, "sex": "M"}, *_children(rng, rng.choice((1, 1, 2)), age)]
    if kind == "couple_kids":
        age = _adult_age(rng, 20, 50)
        n = rng.choices((1, 2, 3), weights=(40, 40, 20))[0]
        return [
            {"age": age, "sex": "F"},
            {"age": age + rng.randint(-3, 8), "sex": "M"},
            *_children(rng, n, age),
        ]
    # large family: two parents, 4 to 7 children, sometimes a grandparent.
    age = _adult_age(rng, 25, 50)
    members = [
        {"age": age, "sex": "F"},
        {"age": age + rng.randint(-2, 10), "sex": "M"},
        *_children(rng, rng.choice((4, 4, 5, 5, 6, 7)), age),
    ]
    if rng.random() < 0.15:
        members.append({"age": rng.randint(60, 80), "sex": rng.choice("FM")})
    return members


HOUSEHOLD_KINDS = (
    "man",
    "woman",
    "couple",
    "mother",
    "father",
    "couple_kids",
    "large",
    "dv_woman",
    "dv_mother",
)
HOUSEHOLD_WEIGHTS = (38, 17, 4, 15, 2, 10, 4, 4, 6)


def _waiting_since(rng: random.Random, priority: int) -> str:
    # Immediate danger is usually tonight's call; others have waited hours to weeks.
    mean_h = 3.0 if priority == 4 else 40.0
    hours = min(rng.expovariate(1 / mean_h), 24 * 21)
    t = TONIGHT - timedelta(minutes=int(hours * 60) + rng.randint(0, 10))
    return t.isoformat()


def _household(
    rng: random.Random, geo: _Geo, hid: str, kind: str, near_city: list[list[str]]
) -> dict[str, Any]:
    dv = kind.startswith("dv_")
    members = _members(rng, "woman" if kind == "dv_woman" else kind)
    if dv:
        priority = rng.choices((4, 3, 2), weights=(45, 45, 10))[0]
    else:
        priority = rng.choices((4, 3, 2, 1), weights=(4, 22, 44, 30))[0]
    city = geo.commune()
    # 10 % live outside the towns (a wider spread around them).
    lat, lon = geo.around(city, spread=1.5 if rng.random() < 0.9 else 6.0)
    needs: dict[str, Any] = {
        "dv_specialised": dv and rng.random() < 0.75,
        "secure": dv and rng.random() < 0.4,
        "wheelchair": rng.random() < 0.03,
        "pets": len(members) <= 2 and rng.random() < 0.05,
        "language": _pick_language(rng) if rng.random() < 0.2 else None,
    }
    h: dict[str, Any] = {
        "id": hid,
        "priority": priority,
        "waiting_since": _waiting_since(rng, priority),
        "origin": {"lat": lat, "lon": lon},
        "max_km": None if rng.random() < 0.3 else rng.choice(MAX_KM_CHOICES),
        "members": members,
        "needs": needs,
        "avoid": [],
        "excluded_shelters": [],
        "keep_apart": [],
    }
    if dv:
        # The perpetrator's home: near where she fled from.
        zlat, zlon = geo.offset(lat, lon, rng.uniform(-3, 3), rng.uniform(-3, 3))
        h["avoid"].append({"lat": zlat, "lon": zlon, "km": rng.choice((5, 10, 10, 15, 20, 25))})
        if h["max_km"] is not None and h["max_km"] < 40:
            h["max_km"] = rng.choice((40, 60, 80, 100))
    # Shelters that refused this household before, or that it refuses: near home.
    if near_city[city] and rng.random() < 0.04:
        picks = {rng.choice(near_city[city]) for _ in range(rng.choice((1, 1, 2)))}
        h["excluded_shelters"] = sorted(picks)
    return h


def _perpetrator(rng: random.Random, geo: _Geo, hid: str, victim: dict[str, Any]) -> dict[str, Any]:
    """An evicted violent partner, also waiting for a bed tonight."""
    o = victim["origin"]
    lat, lon = geo.offset(o["lat"], o["lon"], rng.uniform(-2, 2), rng.uniform(-2, 2))
    priority = rng.choice((1, 2, 2, 3))
    return {
        "id": hid,
        "priority": priority,
        "waiting_since": _waiting_since(rng, priority),
        "origin": {"lat": lat, "lon": lon},
        "max_km": rng.choice((None, 30, 50, 80)),
        "members": [{"age": _adult_age(rng, 20, 60), "sex": "M"}],
        "needs": {
            "dv_specialised": False,
            "secure": False,
            "wheelchair": False,
            "pets": False,
            "language": None,
        },
        "avoid": [],
        "excluded_shelters": [],
        "keep_apart": [],
    }


# --- the problem --------------------------------------------------------------------------


def generate_problem(
    shelters: int,
    households: int,
    seed: int = 0,
    region: str = "nord",
    time_limit_s: float = 10,
) -> Problem:
    """A random night of ``shelters`` shelters and ``households`` waiting households.

    Ids: shelters ``S1``…, rooms ``S{n}-R{k}``, households ``H1``…. Same arguments, same
    problem. Raises ``ValueError`` on a negative size or an unknown region.
    """
    if region not in REGIONS:
        raise ValueError(f"unknown region {region!r} (known: {', '.join(sorted(REGIONS))})")
    if not 0 <= shelters <= MAX_SHELTERS:
        raise ValueError(f"shelters must be between 0 and {MAX_SHELTERS}")
    if not 0 <= households <= MAX_HOUSEHOLDS:
        raise ValueError(f"households must be between 0 and {MAX_HOUSEHOLDS}")
    if not 0 < time_limit_s <= 3600:
        raise ValueError("time limit must be more than 0 and at most 3600 seconds")
    rng = random.Random(f"abri-generate/{region}/{seed}")
    geo = _Geo(rng, REGIONS[region])

    shelter_list: list[dict[str, Any]] = []
    near_city: list[list[str]] = [[] for _ in geo.communes]
    kinds = rng.choices(KINDS, weights=KIND_MIX[region], k=shelters)
    for n, kind in enumerate(kinds, start=1):
        city = geo.commune()
        lat, lon = geo.around(city)
        shelter_list.append(_shelter(rng, f"S{n}", lat, lon, kind))
        near_city[city].append(f"S{n}")

    hh: list[dict[str, Any]] = []
    while len(hh) < households:
        kind = rng.choices(HOUSEHOLD_KINDS, weights=HOUSEHOLD_WEIGHTS)[0]
        victim = _household(rng, geo, f"H{len(hh) + 1}", kind, near_city)
        hh.append(victim)
        if kind.startswith("dv_") and len(hh) < households and rng.random() < 0.35:
            perp = _perpetrator(rng, geo, f"H{len(hh) + 1}", victim)
            hh.append(perp)
            km = rng.choice((10, 15, 20, 25, 30))
            victim["keep_apart"].append({"household": perp["id"], "km": km})
            if rng.random() < 0.5:  # sometimes both case files carry the pair
                perp["keep_apart"].append({"household": victim["id"], "km": km})
        elif kind == "man" and len(hh) >= 2 and rng.random() < 0.01:
            # Two men who fought at a centre: not the same shelter (km 0) or a few km.
            other = hh[rng.randrange(len(hh) - 1)]
            if other["members"][0]["sex"] == "M" and len(other["members"]) == 1:
                victim["keep_apart"].append({"household": other["id"], "km": rng.choice((0, 5))})

    people = sum(len(h["members"]) for h in hh)
    _trim_beds(rng, shelter_list, int(people / PEOPLE_PER_BED))

    return Problem.model_validate(
        {
            "format": "shelter-allocation/1",
            "settings": {
                "time_limit_s": time_limit_s,
                "seed": seed % 2**31,
                "max_rooms_per_household": 2,
            },
            "shelters": shelter_list,
            "households": hh,
        }
    )


# --- command line -------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad option in one line and exits 2 (the CLI contract)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message}\n")


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative: {value}")
    return value


def _build_parser() -> _Parser:
    p = _Parser(
        prog="python -m allocation generate",
        description="Write a realistic random problem (JSON) to stdout.",
    )
    p.add_argument("--shelters", type=_count, required=True, help="number of shelters")
    p.add_argument("--households", type=_count, required=True, help="waiting households")
    p.add_argument("--seed", type=_count, default=0, help="random seed (default 0)")
    p.add_argument(
        "--region", default="nord", choices=sorted(REGIONS), help="communes to use (nord)"
    )
    p.add_argument(
        "--time-limit", type=float, default=10.0, help="settings.time_limit_s (default 10)"
    )
    return p


def main(argv: list[str] | None = None) -> int:
    """``python -m allocation generate``; ``argv`` excludes the word ``generate``."""
    parser = _build_parser()
    try:
        args = parser.parse_args(argv)
        try:
            problem = generate_problem(
                args.shelters, args.households, args.seed, args.region, args.time_limit
            )
        except ValueError as exc:
            parser.error(str(exc).splitlines()[0])
    except SystemExit as exc:  # argparse exits on --help (0) and on bad options (2)
        return exc.code if isinstance(exc.code, int) else 2
    sys.stdout.write(problem.model_dump_json(exclude_none=False))
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
