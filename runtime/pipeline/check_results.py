"""Each domain's latest dbt check results, kept in its work folder.

dbt's `target/` holds the last invocation only, whichever domain ran it; the finance page shows
the latest result of every check of every domain (runtime/reports/report_checks.py). After each
build the run writes the build's checks (names, kinds, statuses, failure counts and the relation
holding the failing rows; never row values) to `<work>/<tenant>/<stream>/<domain>/dbt_checks.json`,
replaced atomically.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

from runtime.pipeline.dbt import DbtOutcome

CHECKS_FILE = "dbt_checks.json"


def keep_check_results(outcome: DbtOutcome, domain_work: Path) -> Path:
    """Write the build's checks to the domain's work folder; returns the file."""
    document = {
        "generated_at": datetime.now(UTC).isoformat(),
        "checks": [
            {
                "name": check.name,
                "kind": check.kind,
                "status": check.status,
                "failures": check.failures,
                "description": check.description,
                "failures_relation": check.failures_relation,
            }
            for check in outcome.checks
        ],
        "errors": len(outcome.errors),
    }
    domain_work.mkdir(parents=True, exist_ok=True)
    path = domain_work / CHECKS_FILE
    temporary = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps(document, sort_keys=True, indent=1), encoding="utf-8")
    os.replace(temporary, path)
    return path
