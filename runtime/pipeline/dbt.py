"""Run dbt in-process (dbtRunner) for one tenant's warehouse and summarise the outcome.

Per-run values travel as environment variables that profiles.yml and the models read with
env_var(), never as --vars, so partial parsing survives between runs. The PHI key is among
them only for the connection (DuckDB plugin / PGOPTIONS), never read by env_var().

dbt's parse is kept across processes in the tenant's dbt folder, one state per environment
(`<work_dir>/parse/<engine>-<digest>.msgpack`, or in EHRFUSION_DBT_PARSE_DIR): a tenant's
domains read different env_var() values, and a single state shared by them would be re-parsed
(nearly whole) every time the domain changed. A run starts from its environment's state, or
from the same engine's latest one when it has none yet, and dbt re-parses only what changed
since (it checks every file, env_var() value and the profile itself, so a state can make a
parse slower, never wrong).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from runtime.core.errors import safe_message

PROJECT_DIR = Path(__file__).resolve().parents[2] / "dbt_project"
PARSE_STATE_DIR = "parse"
PARSE_DIR_ENV = "EHRFUSION_DBT_PARSE_DIR"
PARSE_FILE = "partial_parse.msgpack"  # where dbt writes its parse, in the target folder
# What no parse reads and no file name may derive from: the PHI key, which reaches the
# connection only (DuckDB plugin, PGOPTIONS), and the Postgres password.
_NOT_PARSED = frozenset({"EHRFUSION_PHI_KEY", "PGOPTIONS", "DBT_ENV_SECRET_EHRFUSION_PG_PASSWORD"})
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
    """Invoke `dbt <command>` against the project (default: the shipped one) with target, logs
    and parse state under work_dir."""
    project = project_dir or PROJECT_DIR
    state = parse_state_path(work_dir, project, env)
    start_from = state if state.is_file() else _latest(state.parent, _engine(env))
    written = work_dir / "target" / PARSE_FILE
    before = _stamp(written)
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
        *(["--partial-parse-file-path", str(start_from)] if start_from else []),
    ]
    with scoped_environment(env):
        # imported here: a run that skips its build, and every command that only reads,
        # starts without dbt's import (about a second)
        from dbt.cli.main import dbtRunner

        result = dbtRunner().invoke(cli_args)
    if _stamp(written) not in (before, None):  # dbt parsed something and saved its state
        _keep(written, state)
    return _summarise(result)


def parse_state_dir(work_dir: Path) -> Path:
    """The folder of the parse states: beside the dbt target folder, or where
    EHRFUSION_DBT_PARSE_DIR names (a folder that outlives the work folder, or the test suite's
    one per process)."""
    return Path(os.environ.get(PARSE_DIR_ENV) or work_dir / PARSE_STATE_DIR)


def parse_state_path(work_dir: Path, project: Path, env: dict[str, str]) -> Path:
    """Where dbt's parse for this project and environment is kept: named by a digest of the
    project folder and every environment value dbt may read (never the PHI key or a
    password)."""
    digest = hashlib.sha256(str(project.resolve()).encode())
    for name in sorted(set(env) - _NOT_PARSED):
        digest.update(f"\0{name}={env[name]}".encode())
    return parse_state_dir(work_dir) / f"{_engine(env)}-{digest.hexdigest()[:24]}.msgpack"


def _engine(env: dict[str, str]) -> str:
    return env.get("EHRFUSION_DBT_TARGET", "duckdb")


def _latest(folder: Path, engine: str) -> Path | None:
    """The parse state for the same engine kept most recently (another environment's), if any:
    another engine's profile would make dbt parse everything again."""
    kept = [
        (stamp[1], path) for path in folder.glob(f"{engine}-*.msgpack") if (stamp := _stamp(path))
    ]
    return max(kept)[1] if kept else None


def _stamp(path: Path) -> tuple[int, int, int] | None:
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return stat.st_ino, stat.st_mtime_ns, stat.st_size


def _keep(written: Path, state: Path) -> None:
    """Copy dbt's fresh parse to the environment's state, replaced whole (a concurrent run of
    another stream may be reading it)."""
    state.parent.mkdir(parents=True, exist_ok=True)
    partial = state.with_suffix(f".{os.getpid()}.tmp")
    try:
        partial.write_bytes(written.read_bytes())
        os.replace(partial, state)
    except FileNotFoundError:  # another run of the tenant replaced the target meanwhile
        partial.unlink(missing_ok=True)


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
