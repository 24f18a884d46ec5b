"""A fictional but realistic night in the Valenciennes / Hainaut area (Nord).

Names, addresses and phone numbers are invented (phones are in ARCEP's range reserved for
fiction, 03 53 01 xx xx). Positions are the real communes'. Room tuples are
``(label, beds, cribs, shared, sex, wheelchair, out_of_service, occupied_beds)``.
Requests carry ``minutes_waiting`` (relative to now) and may name an earlier request by
its ``key`` in ``keep_apart``.
"""

from __future__ import annotations

from typing import Any

RoomRow = tuple[str, int, int, bool, str | None, bool, bool, int]


def _room(
    label: str,
    beds: int,
    cribs: int = 0,
    *,
    shared: str | None = None,
    wheelchair: bool = False,
    oos: bool = False,
    occupied: int = 0,
) -> RoomRow:
    return (label, beds, cribs, shared is not None, shared, wheelchair, oos, occupied)


def _shelter(
    sid: str,
    name: str,
    kind: str,
    commune: str,
    lat: float,
    lon: float,
    *,
    women: bool = True,
    men: bool = True,
    children: bool = True,
    max_boy_age: int | None = None,
    dv: bool = False,
    secure: bool = False,
    wheelchair: bool = False,
    pets: bool = False,
    languages: tuple[str, ...] = ("fr",),
    confidential: bool = False,
    address: str,
    phone: str,
    updated_hours_ago: float | None = 1.0,
    rooms: list[RoomRow],
) -> dict[str, Any]:
    return {
        "id": sid,
        "name": name,
        "kind": kind,
        "commune": commune,
        "lat": lat,
        "lon": lon,
        "women": women,
        "men": men,
        "children": children,
        "max_boy_age": max_boy_age,
        "dv_specialised": dv,
        "secure": secure,
        "wheelchair": wheelchair,
        "pets": pets,
        "languages": list(languages),
        "confidential": confidential,
        "address": address,
        "intake_phone": phone,
        "updated_hours_ago": updated_hours_ago,
        "rooms": rooms,
    }


# fmt: off
SHELTERS: list[dict[str, Any]] = [
    _shelter(
        "shl_demo_val_tisserands", "CHU Les Tisserands", "chu", "Valenciennes", 50.3588, 3.5232,
        wheelchair=True, languages=("fr", "ar"), address="14 rue des Tisserands",
        phone="03 53 01 10 01", updated_hours_ago=0.5,
        rooms=[
            _room("D-H1", 8, shared="M", occupied=5),
            _room("D-F1", 6, shared="F", occupied=2),
            _room("F1", 4, 1),
            _room("F2", 3),
            _room("F3", 5, oos=True),
            _room("S1", 1, wheelchair=True),
            _room("S2", 1, occupied=1),
        ],
    ),
    _shelter(
        "shl_demo_val_stgery", "Halte de nuit Saint-Géry", "chu", "Valenciennes", 50.3545, 3.5170,
        women=False, children=False, pets=True, address="3 place Saint-Géry",
        phone="03 53 01 10 02", updated_hours_ago=2.0,
        rooms=[_room("Dortoir A", 12, shared="M", occupied=9), _room("Dortoir B", 6, shared="M")],
    ),
    _shelter(
        "shl_demo_mau_sambre", "CHU du Val de Sambre", "chu", "Maubeuge", 50.2775, 3.9720,
        wheelchair=True, languages=("fr", "en"), address="27 avenue de France",
        phone="03 53 01 20 01", updated_hours_ago=1.5,
        rooms=[
            _room("F1", 6, 1),
            _room("F2", 4),
            _room("D-H", 10, shared="M", occupied=6),
            _room("D-F", 4, shared="F"),
            _room("S1", 2, wheelchair=True),
        ],
    ),
    _shelter(
        "shl_demo_den_escaut", "CHU L'Escaut", "chu", "Denain", 50.3290, 3.3960,
        address="8 rue de l'Escaut", phone="03 53 01 30 01", updated_hours_ago=3.0,
        rooms=[
            _room("F1", 3),
            _room("F2", 2, 1),
            _room("D-H", 6, shared="M", occupied=1),
            _room("D-F", 4, shared="F", occupied=4),
        ],
    ),
    _shelter(
        "shl_demo_cam_portenotredame", "CHU de la Porte Notre-Dame", "chu", "Cambrai",
        50.1760, 3.2370, address="5 rue de la Porte Notre-Dame", phone="03 53 01 40 01",
        updated_hours_ago=11.0,  # stale: the dashboard should say so
        rooms=[
            _room("F1", 4),
            _room("F2", 2),
            _room("S1", 1),
            _room("D-H", 8, shared="M", occupied=3),
            _room("F3", 6, oos=True),
        ],
    ),
    _shelter(
        "shl_demo_val_rempart", "CHRS Le Rempart", "chrs", "Valenciennes", 50.3620, 3.5300,
        languages=("fr", "tr"), address="41 boulevard du Rempart", phone="03 53 01 10 03",
        updated_hours_ago=0.8,
        rooms=[
            _room("F1", 5, 1),
            _room("F2", 3),
            _room("S1", 1),
            _room("S2", 1, occupied=1),
            _room("S3", 1),
        ],
    ),
    _shelter(
        "shl_demo_hau_hauts", "CHRS Les Hauts de Sambre", "chrs", "Hautmont", 50.2490, 3.9260,
        women=False, children=False, address="2 rue des Forges", phone="03 53 01 20 02",
        updated_hours_ago=5.0,
        rooms=[
            _room("S1", 1, occupied=1),
            _room("S2", 1, occupied=1),
            _room("S3", 1),
            _room("S4", 1),
            _room("D-H", 6, shared="M", occupied=2),
        ],
    ),
    _shelter(
        "shl_demo_cau_cambresis", "CHRS du Cambrésis", "chrs", "Caudry", 50.1250, 3.4120,
        men=False, max_boy_age=17, address="19 rue de la Dentelle", phone="03 53 01 40 02",
        updated_hours_ago=2.5,
        rooms=[_room("F1", 4), _room("F2", 3, 1), _room("F3", 2)],
    ),
    _shelter(
        "shl_demo_dv_iris", "Refuge Les Iris", "dv_shelter", "Anzin", 50.3720, 3.5050,
        men=False, max_boy_age=12, dv=True, secure=True, languages=("fr", "ar"),
        confidential=True, address="(adresse confidentielle) 6 allée des Iris",
        phone="03 53 01 10 04", updated_hours_ago=0.3,
        rooms=[_room("F1", 3, 1), _room("F2", 2, 1), _room("F3", 4), _room("S1", 1, occupied=1)],
    ),
    _shelter(
        "shl_demo_dv_heloise", "Maison Héloïse", "dv_shelter", "Saint-Amand-les-Eaux",
        50.4480, 3.4270, men=False, max_boy_age=14, dv=True, secure=True, wheelchair=True,
        confidential=True, address="(adresse confidentielle) 22 rue Thermale",
        phone="03 53 01 10 05", updated_hours_ago=1.0,
        rooms=[_room("F1", 4, 1, wheelchair=True), _room("F2", 2), _room("F3", 3, occupied=3)],
    ),
    _shelter(
        "shl_demo_dv_passerelle", "Foyer La Passerelle", "dv_shelter", "Le Cateau-Cambrésis",
        50.1040, 3.5420, men=False, max_boy_age=10, dv=True, confidential=True,
        address="(adresse confidentielle) 9 chemin du Moulin", phone="03 53 01 40 03",
        updated_hours_ago=None,  # never updated through Abri yet
        rooms=[_room("F1", 3), _room("F2", 2, 1)],
    ),
    _shelter(
        "shl_demo_mar_petitspas", "Centre maternel Les Petits Pas", "mother_child", "Marly",
        50.3450, 3.5480, men=False, max_boy_age=6, address="11 rue des Glycines",
        phone="03 53 01 10 06", updated_hours_ago=1.2,
        rooms=[
            _room("M1", 1, 1),
            _room("M2", 1, 1),
            _room("M3", 2, 1, occupied=2),
            _room("M4", 2, 1),
        ],
    ),
    _shelter(
        "shl_demo_val_hotelgare", "Hôtel de la Gare", "hotel", "Valenciennes", 50.3630, 3.5170,
        pets=True, languages=("fr", "en"), address="1 place de la Gare",
        phone="03 53 01 10 07", updated_hours_ago=4.5,
        rooms=[
            _room("101", 2),
            _room("102", 2),
            _room("103", 3, 1),
            _room("104", 1, occupied=1),
            _room("201", 4),
        ],
    ),
    _shelter(
        "shl_demo_aul_hotelsambre", "Hôtel de la Sambre", "hotel", "Aulnoye-Aymeries",
        50.2050, 3.8360, wheelchair=True, address="30 rue Jean Jaurès",
        phone="03 53 01 20 03", updated_hours_ago=9.0,
        rooms=[_room("1", 2), _room("2", 2), _room("3", 1), _room("4", 2, wheelchair=True)],
    ),
    _shelter(
        "shl_demo_fou_avesnois", "CHU de l'Avesnois", "chu", "Fourmies", 50.0160, 4.0530,
        address="4 rue des Filatures", phone="03 53 01 20 04", updated_hours_ago=2.0,
        rooms=[_room("D-H", 4, shared="M"), _room("D-F", 2, shared="F"), _room("F1", 3)],
    ),
    _shelter(
        "shl_demo_con_nuit", "Accueil de nuit de Condé", "chu", "Condé-sur-l'Escaut",
        50.4560, 3.5880, women=False, children=False, address="7 quai de l'Escaut",
        phone="03 53 01 10 08", updated_hours_ago=1.0,
        rooms=[_room("D1", 8, shared="M", occupied=8), _room("D2", 4, shared="M")],
    ),
]

# Where people call from (origins), near the real town centres.
VALENCIENNES = {"lat": 50.3570, "lon": 3.5230}
DENAIN = {"lat": 50.3290, "lon": 3.3950}
MAUBEUGE = {"lat": 50.2780, "lon": 3.9730}
CAMBRAI = {"lat": 50.1750, "lon": 3.2350}
SAINT_AMAND = {"lat": 50.4470, "lon": 3.4290}
AVESNES = {"lat": 50.1230, "lon": 3.9280}
CONDE = {"lat": 50.4550, "lon": 3.5900}
ANZIN = {"lat": 50.3710, "lon": 3.5040}


def _m(*people: tuple[int, str]) -> list[dict[str, Any]]:
    return [{"age": age, "sex": sex} for age, sex in people]


REQUESTS: list[dict[str, Any]] = [
    # An evicted perpetrator (court order), kept away from the victim who follows.
    {"key": "perp", "reference": "115-2026-004101", "priority": 2, "minutes_waiting": 140,
     "origin": DENAIN, "max_km": 50, "members": _m((38, "M"))},
    # His partner and her baby: DV shelter, away from Denain, and never near him.
    {"reference": "115-2026-004102", "priority": 4, "minutes_waiting": 95, "origin": DENAIN,
     "max_km": 60, "members": _m((27, "F"), (1, "F")),
     "needs": {"dv_specialised": True, "secure": True},
     "avoid": [{"lat": 50.329, "lon": 3.395, "km": 8}],
     "keep_apart": [{"key": "perp", "km": 20}]},
    # Mother and two children fleeing tonight; the abuser lives in Valenciennes.
    {"reference": "115-2026-004103", "priority": 4, "minutes_waiting": 35,
     "origin": VALENCIENNES, "max_km": 60,
     "members": _m((34, "F"), (8, "F"), (5, "M")),
     "needs": {"dv_specialised": True, "secure": True, "language": "ar"},
     "avoid": [{"lat": 50.36, "lon": 3.52, "km": 10}]},
    # Young woman alone, fleeing, from Maubeuge.
    {"reference": "115-2026-004104", "priority": 4, "minutes_waiting": 20, "origin": MAUBEUGE,
     "max_km": 80, "members": _m((22, "F")), "needs": {"dv_specialised": True},
     "avoid": [{"lat": 50.278, "lon": 3.973, "km": 15}]},
    # A boy of 16: every DV shelter refuses boys over 14 -> no eligible shelter.
    {"reference": "115-2026-004105", "priority": 3, "minutes_waiting": 150, "origin": ANZIN,
     "max_km": 60, "members": _m((36, "F"), (16, "M"), (12, "F")),
     "needs": {"dv_specialised": True}},
    # Nine people, all over 3, within 25 km of Denain: no rooms fit -> no_room_fits.
    {"reference": "115-2026-004106", "priority": 3, "minutes_waiting": 210, "origin": DENAIN,
     "max_km": 25,
     "members": _m((41, "M"), (39, "F"), (17, "F"), (15, "M"), (13, "M"), (11, "F"),
                   (9, "M"), (6, "F"), (4, "M"))},
    # Wheelchair user with a dog: no shelter takes both -> no eligible shelter.
    {"reference": "115-2026-004107", "priority": 2, "minutes_waiting": 180,
     "origin": VALENCIENNES, "max_km": None, "members": _m((52, "M")),
     "needs": {"wheelchair": True, "pets": True}},
    # Wants to stay in Avesnes: nothing within 3 km.
    {"reference": "115-2026-004108", "priority": 1, "minutes_waiting": 60, "origin": AVESNES,
     "max_km": 3, "members": _m((45, "F"))},
    # A wheelchair user, alone.
    {"reference": "115-2026-004109", "priority": 3, "minutes_waiting": 75,
     "origin": VALENCIENNES, "max_km": 60, "members": _m((60, "F")),
     "needs": {"wheelchair": True}},
    # A teenage boy with his mother and brother: needs a shelter without a boys' age limit.
    {"reference": "115-2026-004110", "priority": 2, "minutes_waiting": 130,
     "origin": VALENCIENNES, "max_km": 40, "members": _m((40, "F"), (15, "M"), (9, "M"))},
    # A mother of 19 and her newborn.
    {"reference": "115-2026-004111", "priority": 3, "minutes_waiting": 50,
     "origin": VALENCIENNES, "max_km": 30, "members": _m((19, "F"), (0, "M"))},
    # Single men.
    {"reference": "115-2026-004112", "priority": 2, "minutes_waiting": 240,
     "origin": VALENCIENNES, "max_km": 30, "members": _m((44, "M"))},
    {"reference": "115-2026-004113", "priority": 1, "minutes_waiting": 190,
     "origin": VALENCIENNES, "max_km": 30, "members": _m((29, "M"))},
    {"reference": "115-2026-004114", "priority": 2, "minutes_waiting": 45, "origin": MAUBEUGE,
     "max_km": 40, "members": _m((57, "M"))},
    {"reference": "115-2026-004115", "priority": 1, "minutes_waiting": 25, "origin": CONDE,
     "max_km": 30, "members": _m((33, "M"))},
    {"reference": "115-2026-004116", "priority": 2, "minutes_waiting": 15, "origin": CAMBRAI,
     "max_km": 40, "members": _m((71, "M"))},
    # A couple.
    {"reference": "115-2026-004117", "priority": 2, "minutes_waiting": 100,
     "origin": SAINT_AMAND, "max_km": 40, "members": _m((31, "F"), (34, "M"))},
    # A family of six.
    {"reference": "115-2026-004118", "priority": 3, "minutes_waiting": 160, "origin": MAUBEUGE,
     "max_km": 50,
     "members": _m((38, "F"), (40, "M"), (12, "F"), (9, "M"), (6, "F"), (2, "M"))},
    # Single women.
    {"reference": "115-2026-004119", "priority": 2, "minutes_waiting": 70,
     "origin": VALENCIENNES, "max_km": 30, "members": _m((51, "F"))},
    {"reference": "115-2026-004120", "priority": 1, "minutes_waiting": 30, "origin": DENAIN,
     "max_km": 30, "members": _m((24, "F"))},
    # A woman and her dog.
    {"reference": "115-2026-004121", "priority": 1, "minutes_waiting": 110,
     "origin": VALENCIENNES, "max_km": 20, "members": _m((48, "F")), "needs": {"pets": True}},
    # Mother and three children who speak Turkish.
    {"reference": "115-2026-004122", "priority": 3, "minutes_waiting": 85,
     "origin": VALENCIENNES, "max_km": 40,
     "members": _m((35, "F"), (10, "F"), (7, "M"), (3, "F")), "needs": {"language": "tr"}},
    # A father and two children.
    {"reference": "115-2026-004123", "priority": 3, "minutes_waiting": 65, "origin": CAMBRAI,
     "max_km": 40, "members": _m((42, "M"), (10, "F"), (7, "M"))},
    # A family who speak Dari.
    {"reference": "115-2026-004124", "priority": 2, "minutes_waiting": 200,
     "origin": VALENCIENNES, "max_km": 80,
     "members": _m((30, "M"), (28, "F"), (4, "F")), "needs": {"language": "prs"}},
    # A mother and baby from Cambrai, fleeing; not to go back to Cambrai.
    {"reference": "115-2026-004125", "priority": 4, "minutes_waiting": 10, "origin": CAMBRAI,
     "max_km": 70, "members": _m((30, "F"), (2, "F")), "needs": {"dv_specialised": True},
     "avoid": [{"lat": 50.175, "lon": 3.235, "km": 12}], "excluded_shelters": []},
    # Three wheelchair users near Maubeuge, two accessible rooms within 20 km: one waits
    # (capacity_taken), the most urgent two are placed.
    {"reference": "115-2026-004126", "priority": 3, "minutes_waiting": 55, "origin": MAUBEUGE,
     "max_km": 20, "members": _m((66, "M")), "needs": {"wheelchair": True}},
    {"reference": "115-2026-004127", "priority": 2, "minutes_waiting": 40, "origin": MAUBEUGE,
     "max_km": 20, "members": _m((58, "F")), "needs": {"wheelchair": True}},
    {"reference": "115-2026-004128", "priority": 1, "minutes_waiting": 5, "origin": MAUBEUGE,
     "max_km": 20, "members": _m((45, "M")), "needs": {"wheelchair": True}},
]
# fmt: on

# The neighbouring Pas-de-Calais (62): a smaller second territory for the two-territory
# demo. Arras, Lens and Béthune; the Nord and the Pas-de-Calais list each other as
# neighbours, so a household of Arras may be placed in Cambrai and one of Cambrai in Arras.
ARRAS = {"lat": 50.2910, "lon": 2.7770}
LENS = {"lat": 50.4320, "lon": 2.8310}
BETHUNE = {"lat": 50.5300, "lon": 2.6400}

# fmt: off
PDC_SHELTERS: list[dict[str, Any]] = [
    _shelter(
        "shl_demo_arr_vauban", "CHU Vauban", "chu", "Arras", 50.2920, 2.7700,
        wheelchair=True, address="8 boulevard Vauban", phone="03 53 01 62 01",
        updated_hours_ago=1.0,
        rooms=[_room("D-H", 8, shared="M", occupied=6), _room("F1", 4, 1), _room("S1", 1)],
    ),
    _shelter(
        "shl_demo_len_fosse", "CHRS La Fosse 11", "chrs", "Lens", 50.4330, 2.8250,
        address="11 rue de la Fosse", phone="03 53 01 62 02", updated_hours_ago=3.0,
        rooms=[_room("F1", 3), _room("F2", 5, 1), _room("D-F", 4, shared="F", occupied=1)],
    ),
    _shelter(
        "shl_demo_bet_refuge", "Refuge de l'Artois", "dv_shelter", "Béthune", 50.5310, 2.6420,
        men=False, max_boy_age=12, dv=True, secure=True, confidential=True,
        address="(confidentielle)", phone="03 53 01 62 03", updated_hours_ago=0.5,
        rooms=[_room("F1", 3, 1), _room("F2", 2)],
    ),
]

PDC_REQUESTS: list[dict[str, Any]] = [
    {"reference": "115-62-2026-000201", "priority": 4, "minutes_waiting": 35, "origin": LENS,
     "max_km": 40, "members": _m((27, "F"), (2, "F")), "needs": {"dv_specialised": True}},
    {"reference": "115-62-2026-000202", "priority": 2, "minutes_waiting": 120, "origin": ARRAS,
     "max_km": 30, "members": _m((48, "M"))},
    {"reference": "115-62-2026-000203", "priority": 3, "minutes_waiting": 80, "origin": ARRAS,
     "max_km": 60, "members": _m((35, "F"), (34, "M"), (8, "F"), (5, "M"), (1, "F"))},
    {"reference": "115-62-2026-000204", "priority": 2, "minutes_waiting": 60, "origin": BETHUNE,
     "max_km": 40, "members": _m((52, "F"))},
]
# fmt: on
