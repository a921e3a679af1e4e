"""The source catalog: every source system ehrfusion reads, declared once.

An entry says how the source lands (its extract), which PHI modes its models implement, how
its batches are cut, which landed rows name patients (the `read` entries of the accounting of
disclosures), and, per Fusion object it can feed, what a domain of it lands and builds. Config
validation, extract dispatch, the run, the disclosure log, the contributions' environment and
the dbt selection of every domain derive from here; nothing else names sources.

Every Fusion object the product sends has its models written once (the journal chain; one set
per record object), fed by one model per source in the object's canonical shape, its
*contribution*. Adding a source is an entry here, its extract package, its staging folder and
one contribution per object it feeds (docs/adding_a_source.md).
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
class RecordObject:
    """A record object's models, written once for every source feeding it (dbt tag `chain`;
    contributions under the contract in intermediate/_<chain>__contributions.yml)."""

    chain: str  # dbt tag of its shared models; EHRFUSION_<CHAIN>_MODEL names the contribution
    # file in the zip (an FBDI CSV, or the HDL .dat: one mart whose columns are
    # <component>__<attribute>) -> mart model, the primary one first
    marts: dict[str, str]
    exceptions: str  # mart of held records with a reason


# Every record object the product sends, by Fusion object. Their marts hold each domain's rows
# apart by (stream_name, domain_name): read them through runtime.core.targets.record_rows.
RECORD_OBJECTS = {
    "InvTransactionsInterface": RecordObject(
        "inv_transactions",
        {"InvTransactionsInterface.csv": "fusion__inv_transactions"},
        "exceptions__inv_transactions",
    ),
    "FaMassAdditions": RecordObject(
        "mass_additions",
        {
            "FaMassAdditions.csv": "fusion__mass_additions",
            "FaMassaddDistributions.csv": "fusion__mass_addition_distributions",
        },
        "exceptions__mass_additions",
    ),
    "Worker": RecordObject(
        "workers",
        {"Worker.dat": "fusion__hdl_workers"},
        "exceptions__workers",
    ),
}
# The journal chain's name in the contributions' environment (EHRFUSION_JOURNAL_MODEL).
JOURNAL = "journal"
# Charge sources contribute charges (EHRFUSION_CHARGE_MODEL) that this model of the chain turns
# into balanced entries, their contribution to the journal chain.
CHARGES = "charge"
CHARGE_JOURNAL_LINES = "int_charge_journal_lines"


@dataclass(frozen=True)
class Target:
    """What a domain feeding one Fusion object (or only landing) lands and builds."""

    select: tuple[str, ...]  # dbt selection (`--select`) of the models and tests it builds
    tables: tuple[str, ...] | None = None  # source tables the domain lands (None: all)
    journal: Journal | None = None  # GL journals: the source's contribution to the chain
    # the object's shared models (JOURNAL or a RecordObject's chain) and the source's model in
    # their canonical shape (None: a landing target)
    chain: str | None = None
    contribution: str | None = None
    # charge sources: their charges in the canonical charge shape (the CHARGES chain)
    charges: str | None = None
    # record objects: file in the zip (FBDI CSV or HDL .dat) -> mart model, the primary one first
    marts: dict[str, str] = field(default_factory=dict)
    exceptions: str | None = None  # record objects: mart of held records with a reason

    @property
    def primary_mart(self) -> str:
        return next(iter(self.marts.values()))


@dataclass(frozen=True)
class PatientRows:
    """A raw table whose rows name a patient: the SQL of the source system and of the local
    patient id (the pair the staging models pseudonymize as `local_patient_pseudonym`, kind
    `patient`), or, where `system` is None, of an identifier staging pseudonymizes alone as
    `kind` (Epic's MRN)."""

    layer: str
    table: str
    system: str | None
    local_id: str
    kind: str = "patient"


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
        chain=JOURNAL,
        contribution=contribution,
    )


def _charges(
    contribution: str,
    staging: tuple[str, ...],
    batch: str,
    description: str,
    tables: tuple[str, ...] | None = None,
) -> Target:
    """A charge source's GL target: its charges (intermediate/_charges__contributions.yml),
    turned into balanced entries once for every charge source, then the one journal chain."""
    return Target(
        select=(*staging, f"+{contribution}", JOURNAL_CHAIN),
        tables=tables,
        journal=Journal(CHARGE_JOURNAL_LINES, batch, description),
        chain=JOURNAL,
        contribution=CHARGE_JOURNAL_LINES,
        charges=contribution,
    )


def _records(fusion_object: str, contribution: str, tables: tuple[str, ...]) -> Target:
    """A record source's target: its contribution with everything upstream of it, then the
    object's shared models (with the seeds they read and what Fusion accepted)."""
    chain = RECORD_OBJECTS[fusion_object]
    return Target(
        select=(f"+{contribution}", f"tag:{chain.chain}"),
        tables=tables,
        chain=chain.chain,
        contribution=contribution,
        marts=dict(chain.marts),
        exceptions=chain.exceptions,
    )


_TOUCHWORKS_GL = _charges(
    "int_touchworks__charges",
    ("path:models/staging/touchworks", RESTRICTED_ZIP3),
    "TOUCHWORKS CHARGES",
    "Veradigm TouchWorks charges landed on",
)
_PRACTICE_FUSION_GL = _charges(
    "int_practice_fusion__charges",
    ("stg_veradigm__pf_*", RESTRICTED_ZIP3),
    "PRACTICE FUSION CHARGES",
    "Practice Fusion charges landed on",
)
_UNITY_GL = _charges(
    "int_unity__charges",
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
            patients=(
                PatientRows("raw_epic", "resolute_journal_lines", None, "pat_mrn_id", kind="mrn"),
            ),
        ),
        Source(
            name="allscripts_sunrise",
            extract="extract.pipeline:land_sunrise",
            targets={
                "GlInterface": _charges(
                    "int_sunrise__charges",
                    (),
                    "SUNRISE CHARGES",
                    "Allscripts Sunrise charges landed on",
                    tables=("charge_detail", "encounters", "sfm_charge_overlay"),
                ),
                "InvTransactionsInterface": _records(
                    "InvTransactionsInterface",
                    "int_sunrise__inv_transactions",
                    ("supply_consumption",),
                ),
                "FaMassAdditions": _records(
                    "FaMassAdditions", "int_sunrise__mass_additions", ("device_assets",)
                ),
                "Worker": _records("Worker", "int_sunrise__workers", ("clinicians",)),
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


def contribution_environment(name: str | None) -> dict[str, str]:
    """What the shared models of every Fusion object read, for a domain of source `name`: per
    object, every source's contribution (`EHRFUSION_<CHAIN>_MODELS`, dbt's lineage) and this
    source's own (`EHRFUSION_<CHAIN>_MODEL`, empty where it feeds none), plus its GL batch
    names. The values depend on the source only, so every domain of it gets the same."""
    chains = (JOURNAL, *(o.chain for o in RECORD_OBJECTS.values()))
    targets = [t for s in SOURCES.values() for t in s.targets.values()]
    own = SOURCES[name].targets.values() if name in SOURCES else ()
    env = {
        "EHRFUSION_CHARGE_MODELS": ",".join(sorted({t.charges for t in targets if t.charges})),
        "EHRFUSION_CHARGE_MODEL": next((t.charges for t in own if t.charges), ""),
    }
    for chain in chains:
        every = sorted({t.contribution for t in targets if t.chain == chain and t.contribution})
        mine = [t.contribution for t in own if t.chain == chain and t.contribution]
        env[f"EHRFUSION_{chain.upper()}_MODELS"] = ",".join(every)
        env[f"EHRFUSION_{chain.upper()}_MODEL"] = mine[0] if mine else ""
    journal = next((t.journal for t in own if t.journal), None)
    env["EHRFUSION_BATCH_NAME"] = journal.batch_name if journal else ""
    env["EHRFUSION_BATCH_DESCRIPTION"] = journal.batch_description if journal else ""
    return env
