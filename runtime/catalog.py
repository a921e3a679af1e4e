"""The source catalog: every source system ehrfusion reads, declared once.

An entry says how the source lands (its extract), which PHI modes its models implement, how
its batches are cut, which landed rows name patients (the `read` entries of the accounting of
disclosures), and, per Fusion object it can feed, what a domain of it lands and builds. Config
validation, extract dispatch, the run, the disclosure log, the journal chain's environment and
the dbt selection of every domain derive from here; nothing else names sources.

Adding a source is an entry here, its extract package, its staging folder and one model in the
shape of the Fusion object it feeds (docs/adding_a_source.md).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# dbt selection of the one journal chain (tagged in dbt_project.yml): every GL domain builds it
# for its own rows, after its source's contribution.
JOURNAL_CHAIN = "tag:journal_chain"
# The restricted ZIP3 seed that postal codes need in safe_harbor and aggregate_only.
RESTRICTED_ZIP3 = "safe_harbor_restricted_zip3"


@dataclass(frozen=True)
class Journal:
    """A GL source's contribution to the journal chain."""

    model: str  # its journal lines in the canonical shape (intermediate/_journal__contributions)
    batch_name: str  # REFERENCE1 of its batches: "<batch_name> <YYYYMMDD>"
    batch_description: str  # REFERENCE2: "<batch_description> <YYYYMMDD>"


@dataclass(frozen=True)
class Target:
    """What a domain feeding one Fusion object (or only landing) lands and builds."""

    select: tuple[str, ...]  # dbt selection (`--select`) of the models and tests it builds
    tables: tuple[str, ...] | None = None  # source tables the domain lands (None: all)
    journal: Journal | None = None  # GL journals: the source's contribution to the chain
    # record objects: FBDI CSV name or HDL component -> mart model, the primary one first
    marts: dict[str, str] = field(default_factory=dict)
    exceptions: str | None = None  # record objects: mart of held records with a reason

    @property
    def primary_mart(self) -> str:
        return next(iter(self.marts.values()))


@dataclass(frozen=True)
class PatientRows:
    """A raw table whose rows name a patient: the SQL of the source system and of the local
    patient id (the pair the staging models pseudonymize as `local_patient_pseudonym`)."""

    layer: str
    table: str
    system: str
    local_id: str


@dataclass(frozen=True)
class Source:
    name: str  # what a domain's `source:` says
    extract: str  # "module:function" landing a domain (extract.pipeline.LandingJob -> Landing)
    targets: dict[str, Target]  # Fusion object -> what its domain lands and builds
    landing: Target | None = None  # a domain without a `fusion:` block (None: block required)
    safe_harbor: bool = False  # its identifiers have safe-harbor surrogates (restricted map)
    batched_by_landing_day: bool = False  # no delivery files: a batch is the day rows landed
    practices: bool = False  # one API serving many practices: a domain lists those it extracts
    patients: tuple[PatientRows, ...] = ()

    def land(self, job: Any) -> Any:
        """Run the source's extract for a domain (imported on first use: a file-drop run never
        pays for SQLAlchemy or OAuth sessions)."""
        module, function = self.extract.split(":")
        extract: Callable[[Any], Any] = getattr(importlib.import_module(module), function)
        return extract(job)


def _gl(
    contribution: str,
    staging: tuple[str, ...],
    batch: str,
    description: str,
    tables: tuple[str, ...] | None = None,
) -> Target:
    """A GL source's target: its staging and contribution, then the one journal chain."""
    return Target(
        select=(*staging, f"+{contribution}", JOURNAL_CHAIN),
        tables=tables,
        journal=Journal(contribution, batch, description),
    )


def _records(tables: tuple[str, ...], marts: dict[str, str], exceptions: str) -> Target:
    """A record object's target: its marts and exceptions with everything upstream of them."""
    upstream = tuple(f"+{model}" for model in (*marts.values(), exceptions))
    return Target(select=upstream, tables=tables, marts=marts, exceptions=exceptions)


_WORKER_MARTS = {
    "Worker": "fusion__hdl_worker_sunrise",
    "PersonName": "fusion__hdl_person_name_sunrise",
    "PersonEmail": "fusion__hdl_person_email_sunrise",
    "WorkRelationship": "fusion__hdl_work_relationship_sunrise",
    "WorkTerms": "fusion__hdl_work_terms_sunrise",
    "Assignment": "fusion__hdl_assignment_sunrise",
}

_TOUCHWORKS_GL = _gl(
    "int_touchworks__journal_lines",
    ("path:models/staging/touchworks", RESTRICTED_ZIP3),
    "TOUCHWORKS CHARGES",
    "Veradigm TouchWorks charges landed on",
)
_PRACTICE_FUSION_GL = _gl(
    "int_practice_fusion__journal_lines",
    ("stg_veradigm__pf_*", RESTRICTED_ZIP3),
    "PRACTICE FUSION CHARGES",
    "Practice Fusion charges landed on",
)
_UNITY_GL = _gl(
    "int_unity__journal_lines",
    ("stg_veradigm__unity_*", RESTRICTED_ZIP3),
    "UNITY CHARGES",
    "Veradigm Unity charges landed on",
)

SOURCES = {
    source.name: source
    for source in (
        Source(
            name="epic_resolute_journal",
            extract="extract.pipeline:land_resolute",
            targets={
                "GlInterface": _gl(
                    "int_epic__journal_lines",
                    (),
                    "EPIC RESOLUTE",
                    "Epic Resolute HB/PB journal feed of",
                )
            },
            safe_harbor=True,
        ),
        Source(
            name="allscripts_sunrise",
            extract="extract.pipeline:land_sunrise",
            targets={
                "GlInterface": _gl(
                    "int_sunrise__journal_lines",
                    (),
                    "SUNRISE CHARGES",
                    "Allscripts Sunrise charges landed on",
                    tables=("charge_detail", "encounters", "sfm_charge_overlay"),
                ),
                "InvTransactionsInterface": _records(
                    ("supply_consumption",),
                    {"InvTransactionsInterface.csv": "fusion__inv_transactions_sunrise"},
                    "exceptions__inv_transactions_sunrise",
                ),
                "FaMassAdditions": _records(
                    ("device_assets",),
                    {
                        "FaMassAdditions.csv": "fusion__mass_additions_sunrise",
                        "FaMassaddDistributions.csv": "fusion__mass_addition_distributions_sunrise",
                    },
                    "exceptions__mass_additions_sunrise",
                ),
                "Worker": _records(
                    ("clinicians",), _WORKER_MARTS, "exceptions__clinician_credentials_sunrise"
                ),
            },
            batched_by_landing_day=True,
            patients=(PatientRows("raw_sunrise", "encounters", "'sunrise'", "patient_id"),),
        ),
        Source(
            name="veradigm_touchworks",
            extract="extract.pipeline:land_touchworks",
            targets={"GlInterface": _TOUCHWORKS_GL},
            landing=_TOUCHWORKS_GL,
            batched_by_landing_day=True,
            patients=tuple(
                PatientRows("raw_touchworks", table, "'touchworks'", "patient_id")
                for table in ("tw_patients", "tw_charges")
            ),
        ),
        Source(
            name="practice_fusion",
            extract="extract.pipeline:land_practice_fusion",
            targets={"GlInterface": _PRACTICE_FUSION_GL},
            landing=_PRACTICE_FUSION_GL,
            batched_by_landing_day=True,
            practices=True,
            patients=tuple(
                PatientRows(
                    "raw_veradigm", table, "'practice_fusion'", "practice_id || ':' || patient_id"
                )
                for table in ("pf_patients", "pf_charges")
            ),
        ),
        Source(
            name="veradigm_unity",
            extract="extract.pipeline:land_unity",
            targets={"GlInterface": _UNITY_GL},
            landing=_UNITY_GL,
            batched_by_landing_day=True,
            patients=tuple(
                PatientRows("raw_veradigm", table, "'unity'", "patient_id")
                for table in ("unity_patients", "unity_charges")
            ),
        ),
        Source(
            name="dbmotion_identity",
            extract="extract.pipeline:land_dbmotion",
            targets={},
            landing=Target(
                select=(
                    "path:models/staging/dbmotion",
                    "path:models/intermediate/identity",
                    "path:models/marts/identity",
                )
            ),
            patients=(
                PatientRows(
                    "raw_dbmotion", "patient_identities", "source_system", "local_patient_id"
                ),
            ),
        ),
    )
}


def source(name: str) -> Source:
    """The catalog entry of a source (config validation admits only catalogued names)."""
    return SOURCES[name]


def target(name: str, fusion_object: str | None) -> Target:
    """What a domain of source `name` feeding `fusion_object` (None: landing only) builds."""
    entry = SOURCES[name]
    if fusion_object is None:
        if entry.landing is None:
            raise KeyError(f"{name} domains need a fusion block")
        return entry.landing
    return entry.targets[fusion_object]


def journal_environment(name: str | None) -> dict[str, str]:
    """What the journal chain's models read: every GL source's contribution (dbt's lineage) and
    the source's own with its batch names (empty where the source feeds no GL journal)."""
    journals = [t.journal for s in SOURCES.values() for t in s.targets.values() if t.journal]
    own = SOURCES[name].targets.get("GlInterface") if name in SOURCES else None
    journal = own.journal if own else None
    return {
        "EHRFUSION_JOURNAL_MODELS": ",".join(sorted({j.model for j in journals})),
        "EHRFUSION_JOURNAL_MODEL": journal.model if journal else "",
        "EHRFUSION_BATCH_NAME": journal.batch_name if journal else "",
        "EHRFUSION_BATCH_DESCRIPTION": journal.batch_description if journal else "",
    }
