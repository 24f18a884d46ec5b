"""The one lock order every writer follows (docs/architecture.md, "Lock order").

1. requests, in id order (``FOR UPDATE``); requests taken with ``SKIP LOCKED`` (hold
   expiry) come after the ones a writer waits for;
2. placements, in id order (``FOR UPDATE``);
3. shelters, in id order: ``FOR NO KEY UPDATE`` to change one (it does not touch the key,
   so it never blocks the foreign-key lock that a new placement takes), ``FOR KEY SHARE``
   to put a placement into one (that foreign-key lock, taken here rather than at INSERT);
4. rooms, in id order (``FOR NO KEY UPDATE``): what serialises everything that holds beds
   with everything that changes a room's capacity;
5. allocation runs: the run being written, then, at commit and in id order, the versions
   of runs whose placements changed (``touch_runs``);
6. the run lease (``allocation_lock``): a write-back locks it first (its fence), every
   other transaction that touches it touches nothing else;
7. the audit chain: last, at commit.

A transaction may skip a step, never go back to an earlier one: two writers then never wait
for each other in a cycle. On SQLite every clause below is ignored (a transaction holds the
whole database from its first statement, ``BEGIN IMMEDIATE``).
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import event, select, update
from sqlalchemy.orm import Session

from app.allocations.models import AllocationRun
from app.placements.models import Placement
from app.requests.models import PlacementRequest
from app.shelters.models import Room, Shelter

_RUNS_TO_TOUCH = "abri_runs_to_touch"
_FORGET_LATEST = "abri_forget_latest"


def lock_requests(session: Session, ids: Iterable[str]) -> dict[str, PlacementRequest]:
    """Step 1: the requests (those that exist), locked in id order, freshly read."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    rows = session.scalars(
        select(PlacementRequest)
        .where(PlacementRequest.id.in_(wanted))
        .order_by(PlacementRequest.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return {r.id: r for r in rows}


def lock_placements(session: Session, ids: Iterable[str]) -> dict[str, Placement]:
    """Step 2: the placements, locked in id order, freshly read."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    rows = session.scalars(
        select(Placement)
        .where(Placement.id.in_(wanted))
        .order_by(Placement.id)
        .with_for_update(of=Placement)
        .execution_options(populate_existing=True)
    )
    return {p.id: p for p in rows}


def lock_shelters_for_change(session: Session, ids: Iterable[str]) -> dict[str, Shelter]:
    """Step 3, to change shelters (PATCH, availability, directory import): in id order,
    freshly read (those that exist)."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    rows = session.scalars(
        select(Shelter)
        .where(Shelter.id.in_(wanted))
        .order_by(Shelter.id)
        .with_for_update(key_share=True)
        .execution_options(populate_existing=True)
    )
    return {s.id: s for s in rows}


def lock_shelter_for_change(session: Session, shelter_id: str) -> Shelter | None:
    return lock_shelters_for_change(session, [shelter_id]).get(shelter_id)


def lock_shelters_to_place(session: Session, ids: Iterable[str]) -> None:
    """Step 3, to put placements into these shelters: the foreign-key lock, in id order."""
    wanted = sorted(set(ids))
    if wanted:
        session.execute(
            select(Shelter.id)
            .where(Shelter.id.in_(wanted))
            .order_by(Shelter.id)
            .with_for_update(read=True, key_share=True)
        ).all()


def lock_rooms(
    session: Session,
    *,
    room_ids: Iterable[str] | None = None,
    shelter_ids: Iterable[str] | None = None,
) -> list[Room]:
    """Step 4: the given rooms, or every room of the given shelters, locked in id order."""
    query = select(Room).order_by(Room.id)
    if room_ids is not None:
        query = query.where(Room.id.in_(sorted(set(room_ids))))
    if shelter_ids is not None:
        query = query.where(Room.shelter_id.in_(sorted(set(shelter_ids))))
    return list(
        session.scalars(
            query.with_for_update(key_share=True).execution_options(populate_existing=True)
        )
    )


def lock_run(session: Session, run_id: str) -> AllocationRun | None:
    """Step 5: the run a write-back fills in, locked after its requests, shelters and rooms."""
    return session.scalars(
        select(AllocationRun)
        .where(AllocationRun.id == run_id)
        .with_for_update(key_share=True)
        .execution_options(populate_existing=True)
    ).one_or_none()


def touch_runs(session: Session, run_ids: Iterable[str | None]) -> None:
    """Step 5: bump these runs' versions (the dashboard's ETag) at commit, in id order.

    Deferred rather than done at once: a transaction that frees placements of several runs
    (hold expiry) would otherwise lock run rows in whatever order it met them, and before
    the shelters and rooms that some writers lock after expiring.
    """
    pending: set[str] = session.info.setdefault(_RUNS_TO_TOUCH, set())
    pending.update(r for r in run_ids if r is not None)


# insert=True: ahead of the audit chain's commit hook, which must take the last lock.
@event.listens_for(Session, "before_commit", insert=True)
def _bump_touched_runs(session: Session) -> None:
    pending: set[str] = session.info.pop(_RUNS_TO_TOUCH, set())
    if pending:
        session.flush()  # every other row change first: these run rows come after them
    for run_id in sorted(pending):
        session.execute(
            update(AllocationRun)
            .where(AllocationRun.id == run_id)
            .values(version=AllocationRun.version + 1)
            .execution_options(synchronize_session=False)
        )
    if pending:
        session.info[_FORGET_LATEST] = True


@event.listens_for(Session, "after_commit")
def _forget_cached_latest(session: Session) -> None:
    if session.info.pop(_FORGET_LATEST, False):
        # Lazy import: the allocations service imports the placements service, which
        # imports this module.
        from app.allocations.service import forget_latest

        forget_latest()


@event.listens_for(Session, "after_rollback")
def _forget_touched_runs(session: Session) -> None:
    session.info.pop(_RUNS_TO_TOUCH, None)
    session.info.pop(_FORGET_LATEST, None)
