"""The dbMotion identity database as the stand-in keeps it: the unified-patient-identity view.

`patient_identities`: one row per patient record a source system registered with dbMotion
(`source_system`, its `local_patient_id`) with the demographics as that source registered
them. `patient_links`: which enterprise id each local id belongs to, over time: a link is
current while `unlinked_at` is null; a merge or unmerge closes links and opens new ones at the
same moment, so the history never has two enterprise ids for one local id at once unless a
feed got it wrong. Both tables carry `last_modified`, the watermark the extract reads by.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

# INTEGER PRIMARY KEY makes SQLite use the key as the rowid: much faster bulk loads.
_BIGINT_KEY = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

patient_identities = sa.Table(
    "patient_identities",
    metadata,
    sa.Column("identity_id", _BIGINT_KEY, primary_key=True, autoincrement=False),
    sa.Column("source_system", sa.Text, nullable=False),
    sa.Column("local_patient_id", sa.Text, nullable=False),
    sa.Column("last_name", sa.Text),
    sa.Column("first_name", sa.Text),
    sa.Column("birth_date", sa.Date),
    sa.Column("sex", sa.Text),
    sa.Column("postal_code", sa.Text),
    sa.Column("last_modified", sa.DateTime, nullable=False),
    sa.UniqueConstraint("source_system", "local_patient_id"),
)

patient_links = sa.Table(
    "patient_links",
    metadata,
    sa.Column("link_id", _BIGINT_KEY, primary_key=True, autoincrement=False),
    sa.Column("enterprise_id", sa.Text, nullable=False),
    sa.Column("source_system", sa.Text, nullable=False),
    sa.Column("local_patient_id", sa.Text, nullable=False),
    sa.Column("linked_at", sa.DateTime, nullable=False),
    sa.Column("unlinked_at", sa.DateTime),
    sa.Column("last_modified", sa.DateTime, nullable=False),
    sa.Index("ix_patient_links_local", "source_system", "local_patient_id"),
    sa.Index("ix_patient_links_enterprise", "enterprise_id"),
)

TABLES: tuple[sa.Table, ...] = (patient_identities, patient_links)
