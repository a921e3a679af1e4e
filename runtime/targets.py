"""What each domain builds and sends, by its source and Fusion object.

A source may feed several domains of its stream, one per Fusion object; each lands only its
own tables (with its own dlt state and lock) and builds only its own dbt selector, so the
Sunrise charges can post daily while its clinicians or supplies run on their own schedule and
a failure in one leaves the others alone.

GL journals run the journal chain (runtime/gl_models.py). The other objects are *record*
targets: their marts hold, per landing day, the records Fusion does not hold yet (compared with
`<tenant>_ops.fusion_records`), one mart per file (FBDI) or component (HDL); the first of them
carries `record_key`, `record_hash` and `measure`, every one carries `batch_date`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from runtime.config import Domain
from runtime.gl_models import GL_MODELS


@dataclass(frozen=True)
class Target:
    selector: str  # the dbt selector the domain builds
    tables: tuple[str, ...] | None = None  # source tables the domain lands (None: all)
    # record targets: FBDI CSV name or HDL component -> mart model, the primary one first
    marts: dict[str, str] = field(default_factory=dict)
    exceptions: str | None = None  # mart of held records with `exception_reason`

    @property
    def primary_mart(self) -> str:
        return next(iter(self.marts.values()))


def column_name(attribute: str) -> str:
    """The mart column of an HDL attribute: `PersonId(SourceSystemId)` ->
    `person_id_source_system_id`, `EffectiveStartDate` -> `effective_start_date`."""
    words = re.sub(r"[()]", " ", attribute).split()
    return "_".join(re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", w).lower() for w in words)


_WORKER_COMPONENTS = (
    "Worker", "PersonName", "PersonEmail", "WorkRelationship", "WorkTerms", "Assignment",
)  # fmt: skip

TARGETS: dict[tuple[str, str | None], Target] = {
    ("epic_resolute_journal", "GlInterface"): Target("epic_resolute_journal"),
    ("allscripts_sunrise", "GlInterface"): Target(
        "allscripts_sunrise", ("charge_detail", "encounters", "sfm_charge_overlay")
    ),
    ("veradigm_touchworks", "GlInterface"): Target("veradigm_touchworks"),
    ("practice_fusion", "GlInterface"): Target("practice_fusion"),
    ("veradigm_unity", "GlInterface"): Target("veradigm_unity"),
    ("allscripts_sunrise", "InvTransactionsInterface"): Target(
        "allscripts_sunrise__supplies",
        ("supply_consumption",),
        {"InvTransactionsInterface.csv": "fusion__inv_transactions_sunrise"},
        "exceptions__inv_transactions_sunrise",
    ),
    ("allscripts_sunrise", "FaMassAdditions"): Target(
        "allscripts_sunrise__devices",
        ("device_assets",),
        {
            "FaMassAdditions.csv": "fusion__mass_additions_sunrise",
            "FaMassaddDistributions.csv": "fusion__mass_addition_distributions_sunrise",
        },
        "exceptions__mass_additions_sunrise",
    ),
    ("allscripts_sunrise", "Worker"): Target(
        "allscripts_sunrise__clinicians",
        ("clinicians",),
        {c: f"fusion__hdl_{column_name(c)}_sunrise" for c in _WORKER_COMPONENTS},
        "exceptions__clinician_credentials_sunrise",
    ),
}


def target_of(domain: Domain) -> Target:
    """The domain's target; a landing domain (no Fusion block) builds its source's selector."""
    key = (domain.source, domain.fusion.object if domain.fusion else None)
    return TARGETS.get(key) or Target(domain.source)


def is_record_target(domain: Domain) -> bool:
    return domain.fusion is not None and not domain.fusion.is_gl


def exceptions_mart(domain: Domain) -> str | None:
    """The mart listing what the domain holds back with reasons (None: a landing domain)."""
    if domain.fusion is None:
        return None
    if domain.fusion.is_gl:
        return GL_MODELS[domain.source].exceptions
    return target_of(domain).exceptions
