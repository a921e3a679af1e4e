"""What each domain builds and sends: its source's catalog target for its Fusion object.

A source may feed several domains of its stream, one per Fusion object; each lands only its
own tables (with its own dlt state and lock) and builds only its own dbt selection, so the
Sunrise charges can post daily while its clinicians or supplies run on their own schedule and
a failure in one leaves the others alone.

GL journals run the one journal chain (runtime/core/gl_models.py). The other objects are *record*
targets: their marts, written once per Fusion object and fed by each source's contribution
(runtime/core/catalog.py RECORD_OBJECTS), hold the records Fusion does not hold yet (compared with
`<tenant>_ops.fusion_records`), one mart per file (FBDI) or component (HDL); the first of them
carries `record_key`, `record_hash` and `measure`, every one carries `batch_date`. The marts are
shared by the tenant's domains of the object, each domain's rows apart by `stream_name` and
`domain_name`: read them through `record_rows`.
"""

from __future__ import annotations

import re

from runtime.core import catalog
from runtime.core.catalog import Target
from runtime.core.config import Domain
from runtime.core.gl_models import GlChain
from runtime.core.warehouse import Warehouse


def column_name(attribute: str) -> str:
    """The mart column of an HDL attribute: `PersonId(SourceSystemId)` ->
    `person_id_source_system_id`, `EffectiveStartDate` -> `effective_start_date`."""
    words = re.sub(r"[()]", " ", attribute).split()
    return "_".join(re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", w).lower() for w in words)


def target_of(domain: Domain) -> Target:
    """The domain's target (config validation admits only the catalog's objects)."""
    return catalog.target(domain.source, domain.fusion.object if domain.fusion else None)


def dbt_selection(domain: Domain) -> list[str]:
    """The dbt arguments selecting what the domain builds."""
    return ["--select", *target_of(domain).select]


def is_record_target(domain: Domain) -> bool:
    return domain.fusion is not None and not domain.fusion.is_gl


def exceptions_mart(domain: Domain) -> str | None:
    """The mart listing what the domain holds back with reasons (None: a landing domain)."""
    if domain.fusion is None:
        return None
    if domain.fusion.is_gl:
        return GlChain.model("exceptions")
    return target_of(domain).exceptions


# The columns that keep the domains' rows of a shared model apart.
DOMAIN_COLUMNS = ("stream_name", "domain_name")


def domain_condition(stream: str, domain: str) -> str:
    """SQL selecting one domain's rows of a model the domains share (a record mart, or the
    journal chain's: the same columns as `GlChain.condition`)."""
    return f"stream_name = {_quote(stream)} and domain_name = {_quote(domain)}"


def record_rows(warehouse: Warehouse, stream: str, domain: str, mart: str, alias: str) -> str:
    """One domain's rows of a record mart (`<tenant>_marts.<mart>`), as a FROM item named
    `alias`: e.g. `select exception_reason, count(*) from {record_rows(...)} group by 1`."""
    relation = f"{warehouse.schema('marts')}.{mart}"
    return f"(select * from {relation} where {domain_condition(stream, domain)}) as {alias}"


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"
