"""Whether a domain's dbt build would read anything its last successful build did not.

A run whose build inputs are those of the domain's last successful build skips dbt and reuses
that build's outcome (its models, seeds and checks, as the run summary and the finance page
show them): the models would rebuild the rows they hold and the checks would pass again. The
inputs, fingerprinted after the extract:

- `build`: the dbt environment (stream, domain, PHI mode and key version, the Fusion target's
  settings; the PHI key itself only as a keyed pseudonym of a constant, secrets never), the
  dbt project's files and the seed files, every load of the tenant's raw layer (dlt's
  `_dlt_loads` of each raw dataset: a load of any source counts, deletes included), and the
  tenant's calendar day (models dated by the run's day);
- `ops`: the domain's own rows of what Fusion accepted (its `fusion_submissions`, whose status
  and request change whenever its posted lines are written, and a count of its
  `fusion_records`).

Both are kept in the domain's work folder (`build_inputs.json`) after a successful build. A
delivery whose built rows do not depend on its own batches' postings (GL journals: every model
compares an entry with what posted in *earlier* batches only) records the `ops` part again at
the end of its run, so the next run with nothing new skips the build too; a record delivery's
marts change once Fusion accepts their records, so its next run builds.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict
from datetime import date
from pathlib import Path

from runtime.core.phi import KEY_ENV, pseudonymize
from runtime.core.warehouse import Warehouse
from runtime.pipeline.dbt import PROJECT_DIR, DbtCheck, DbtOutcome
from runtime.pipeline.reference import seeds_digest

INPUTS_FILE = "build_inputs.json"
_SECRET_ENV = {KEY_ENV, "PGOPTIONS"}
_SKIPPED_FOLDERS = {"target", "logs", "dbt_packages"}


def build_fingerprint(
    warehouse: Warehouse, env: dict[str, str], phi_key: str, project_dir: Path | None, today: date
) -> str:
    """Everything a domain's build reads but what Fusion accepted (see `ops_fingerprint`)."""
    digest = hashlib.sha256()
    settings = {
        name: value
        for name, value in env.items()
        if name not in _SECRET_ENV and not name.startswith("DBT_ENV_SECRET")
    }
    settings["key"] = pseudonymize("build inputs", "fingerprint", phi_key)
    digest.update(json.dumps(settings, sort_keys=True).encode())
    project = project_dir or PROJECT_DIR
    for path in sorted(project.rglob("*")):
        relative = path.relative_to(project)
        if path.is_file() and not _SKIPPED_FOLDERS & set(relative.parts):
            digest.update(str(relative).encode() + b"\0" + path.read_bytes() + b"\0")
    digest.update(seeds_digest(project_dir).encode())
    digest.update(json.dumps(_raw_loads(warehouse), default=str).encode())
    digest.update(today.isoformat().encode())
    return digest.hexdigest()


def ops_fingerprint(warehouse: Warehouse, stream: str, domain: str) -> str:
    """The domain's rows of what Fusion accepted: its submissions whole (a batch's posted lines
    are only ever written with its submission's status and request), its accepted records
    counted."""
    schema = warehouse.schema("ops")
    this = (stream, domain)
    submissions = warehouse.query(
        f"select * from {schema}.fusion_submissions where stream = %s and domain = %s "
        "order by batch_id",
        this,
    )
    records = warehouse.query(
        f"select count(*) from {schema}.fusion_records where stream = %s and domain = %s", this
    )
    text = json.dumps([submissions, records], default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _raw_loads(warehouse: Warehouse) -> list:
    """Per raw dataset of the tenant: how many loads dlt recorded and the latest one."""
    prefix = warehouse.schema("raw") + "%"  # `_` matches any character: at worst a rebuild
    datasets = warehouse.query(
        "select table_schema from information_schema.tables "
        "where table_name = '_dlt_loads' and table_schema like %s order by 1",
        (prefix,),
    )
    return [
        [schema, *warehouse.query(f"select count(*), max(load_id) from {schema}._dlt_loads")[0]]
        for (schema,) in datasets
    ]


class BuildInputs:
    """The fingerprints a domain's last successful build recorded, in its work folder."""

    def __init__(self, domain_work: Path) -> None:
        self.path = domain_work / INPUTS_FILE

    def _read(self) -> dict | None:
        try:
            return json.loads(self.path.read_text())
        except (OSError, ValueError):
            return None

    def unchanged(self, build: str, ops: str) -> DbtOutcome | None:
        """The last successful build's outcome when both fingerprints are the same, else None."""
        kept = self._read()
        if not kept or kept.get("build") != build or kept.get("ops") != ops:
            return None
        outcome = kept["outcome"]
        checks = [DbtCheck(**check) for check in outcome.pop("checks")]
        return DbtOutcome(**outcome, checks=checks)

    def record(self, build: str, ops: str, outcome: DbtOutcome) -> None:
        """Keep a successful build's fingerprints and outcome (replaced atomically)."""
        document = {"build": build, "ops": ops, "outcome": asdict(outcome)}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        staged = self.path.with_name(f".{INPUTS_FILE}.{os.getpid()}")
        staged.write_text(json.dumps(document, sort_keys=True))
        staged.replace(self.path)

    def record_ops(self, ops: str) -> None:
        """After the run's own postings: the same build, with what Fusion accepted now."""
        kept = self._read()
        if kept:
            kept["ops"] = ops
            staged = self.path.with_name(f".{INPUTS_FILE}.{os.getpid()}")
            staged.write_text(json.dumps(kept, sort_keys=True))
            staged.replace(self.path)

    def forget(self) -> None:
        """The next run builds (a build failed, or its outcome may no longer hold)."""
        self.path.unlink(missing_ok=True)
