"""Run dbt in-process (dbtRunner) for one tenant's warehouse and summarise the outcome.

Per-run values travel as environment variables that profiles.yml and the models read with
env_var(), never as --vars, so partial parsing survives between runs. The PHI key is among
them only for the connection (DuckDB plugin / PGOPTIONS), never read by env_var().
"""

from __future__ import annotations

import contextlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from dbt.cli.main import dbtRunner

from runtime.core.errors import safe_message

PROJECT_DIR = Path(__file__).resolve().parents[2] / "dbt_project"
# agate's words for a seed row with more values than the header (rows counted from 0 after it)
_SEED_ROW = re.compile(r"Row (\d+) has (\d+) values, but Table only has (\d+) columns")


@dataclass(frozen=True)
class DbtCheck:
    """One dbt test or unit test result, in the words a finance reviewer reads."""

    name: str
    kind: str
    status: str
    failures: int
    description: str
    failures_relation: str | None


@dataclass
class DbtOutcome:
    success: bool
    models: int = 0
    seeds: int = 0
    checks: list[DbtCheck] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def failed_checks(self) -> list[DbtCheck]:
        """Checks that ran and did not pass (a skipped check did not run)."""
        return [c for c in self.checks if c.status not in ("pass", "success", "skipped")]

    @property
    def skipped_checks(self) -> list[DbtCheck]:
        """Checks dbt did not run because a model or seed they depend on failed."""
        return [c for c in self.checks if c.status == "skipped"]


@contextlib.contextmanager
def scoped_environment(values: dict[str, str]):
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def run_dbt(
    command: str,
    args: list[str],
    env: dict[str, str],
    work_dir: Path,
    project_dir: Path | None = None,
) -> DbtOutcome:
    """Invoke `dbt <command>` against the project (default: the shipped one) with target and
    logs under work_dir."""
    project = project_dir or PROJECT_DIR
    cli_args = [
        command,
        *args,
        "--project-dir",
        str(project),
        "--profiles-dir",
        str(project),
        "--target-path",
        str(work_dir / "target"),
        "--log-path",
        str(work_dir / "logs"),
        "--log-level",
        "none",
        "--log-level-file",
        "info",
        "--no-use-colors",
    ]
    with scoped_environment(env):
        result = dbtRunner().invoke(cli_args)
    return _summarise(result)


def _summarise(result) -> DbtOutcome:
    outcome = DbtOutcome(success=bool(result.success))
    if result.exception is not None:
        outcome.errors.append(safe_message(result.exception))
    for item in getattr(result.result, "results", None) or []:
        node = item.node
        status = str(item.status)
        kind = node.resource_type
        if kind == "model":
            outcome.models += 1
        elif kind == "seed":
            outcome.seeds += 1
        elif kind in ("test", "unit_test"):
            meta = getattr(node.config, "meta", {}) or {}
            outcome.checks.append(
                DbtCheck(
                    name=node.name,
                    kind=kind,
                    status=status,
                    failures=int(item.failures or 0),
                    description=meta.get("finance") or node.description or node.name,
                    failures_relation=getattr(node, "relation_name", None),
                )
            )
        if status == "error":
            outcome.errors.append(_error(node, str(item.message)))
    return outcome


def _error(node, message: str) -> str:
    """A node's error on one line without dbt's macro trace; a seed row with too many values
    is named by its line in the file."""
    text = " ".join(
        line.strip() for line in message.splitlines() if line.strip()[:1] not in ("", ">")
    )
    row = _SEED_ROW.search(text) if node.resource_type == "seed" else None
    if row:
        path = str(node.original_file_path).removeprefix("../")
        return (
            f"seed {node.name}: line {int(row[1]) + 2} of {path} has {row[2]} values, but its "
            f"header has {row[3]} columns; fix the line and run again"
        )
    return f"{node.name}: {safe_message(text)}"
