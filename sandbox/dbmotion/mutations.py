"""Changes to the dbMotion identity database over time: merges, unmerges, a faulty feed's extra
link and demographics corrections.

Each call is one transaction at the database's next moment, one minute after its latest
`last_modified`, so a watermark extract sees every change. Links are never deleted: a merge or
an unmerge closes the current links (`unlinked_at`) and opens the new ones at that same moment.
Errors name what is missing, never an identifier.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from sandbox.dbmotion.generator import DEMOGRAPHICS, enterprise_id
from sandbox.dbmotion.schema import patient_identities, patient_links
from sandbox.sunrise.database import engine_for


@contextlib.contextmanager
def _transaction(url: str) -> Iterator[tuple[sa.Connection, datetime]]:
    """A transaction on the database at `url` and the moment its changes happen."""
    engine = engine_for(url)
    try:
        with engine.begin() as conn:
            latest = max(
                conn.execute(sa.select(sa.func.max(table.c.last_modified))).scalar_one()
                for table in (patient_identities, patient_links)
            )
            yield conn, latest.replace(microsecond=0) + timedelta(minutes=1)
    finally:
        engine.dispose()


def _current(source_system: str, local_patient_id: str):
    return sa.and_(
        patient_links.c.source_system == source_system,
        patient_links.c.local_patient_id == local_patient_id,
        patient_links.c.unlinked_at.is_(None),
    )


def _open(conn: sa.Connection, at: datetime, enterprise: str, local_ids: list[tuple[str, str]]):
    """Open a link from `enterprise` to each (source system, local id) at `at`."""
    first = conn.execute(sa.select(sa.func.max(patient_links.c.link_id))).scalar_one() + 1
    conn.execute(
        patient_links.insert(),
        [
            {
                "link_id": first + n,
                "enterprise_id": enterprise,
                "source_system": system,
                "local_patient_id": local_id,
                "linked_at": at,
                "unlinked_at": None,
                "last_modified": at,
            }
            for n, (system, local_id) in enumerate(local_ids)
        ],
    )


def _close(conn: sa.Connection, at: datetime, which) -> list[tuple[str, str]]:
    """Close the links `which` selects at `at`; their (source system, local id)s."""
    closing = conn.execute(
        sa.select(patient_links.c.source_system, patient_links.c.local_patient_id)
        .where(which)
        .order_by(patient_links.c.link_id)
    ).all()
    conn.execute(patient_links.update().where(which).values(unlinked_at=at, last_modified=at))
    return [tuple(row) for row in closing]


def merge(url: str, surviving: str, retired: str) -> int:
    """Merge enterprise id `retired` into `surviving`: every local id linked to `retired` is
    linked to `surviving` from now on. Returns the number of local ids moved."""
    with _transaction(url) as (conn, at):
        moved = _close(
            conn,
            at,
            sa.and_(
                patient_links.c.enterprise_id == retired, patient_links.c.unlinked_at.is_(None)
            ),
        )
        if not moved:
            raise ValueError("the retired enterprise id has no current links")
        _open(conn, at, surviving, moved)
    return len(moved)


def unmerge(url: str, source_system: str, local_patient_id: str) -> str:
    """Split one local id off its enterprise id onto a new enterprise id, which is returned."""
    with _transaction(url) as (conn, at):
        if not _close(conn, at, _current(source_system, local_patient_id)):
            raise ValueError(f"no current {source_system} link for that local id")
        numbers = [
            int(value[1:])
            for value in conn.execute(sa.select(patient_links.c.enterprise_id)).scalars()
            if value[1:].isdigit()
        ]
        new = enterprise_id(max(numbers, default=0) + 1)
        _open(conn, at, new, [(source_system, local_patient_id)])
    return new


def add_link(url: str, enterprise: str, source_system: str, local_patient_id: str) -> None:
    """Link a local id to `enterprise` without closing its current link: what a faulty identity
    feed does, leaving one local id on two enterprise ids at once."""
    with _transaction(url) as (conn, at):
        _open(conn, at, enterprise, [(source_system, local_patient_id)])


def correct_demographics(url: str, source_system: str, local_patient_id: str, **values: Any):
    """Change the demographics a source registered for one local id (`DEMOGRAPHICS` names)."""
    unknown = set(values) - set(DEMOGRAPHICS)
    if unknown:
        raise ValueError(f"not demographics: {', '.join(sorted(unknown))}")
    with _transaction(url) as (conn, at):
        changed = conn.execute(
            patient_identities.update()
            .where(
                patient_identities.c.source_system == source_system,
                patient_identities.c.local_patient_id == local_patient_id,
            )
            .values(**values, last_modified=at)
        ).rowcount
        if not changed:
            raise ValueError(f"no {source_system} identity with that local id")


def current_enterprise_ids(url: str, source_system: str, local_patient_id: str) -> list[str]:
    """The enterprise ids a local id is linked to now (one, unless a feed got it wrong)."""
    engine = engine_for(url)
    try:
        with engine.connect() as conn:
            return list(
                conn.execute(
                    sa.select(patient_links.c.enterprise_id)
                    .where(_current(source_system, local_patient_id))
                    .order_by(patient_links.c.link_id)
                ).scalars()
            )
    finally:
        engine.dispose()
