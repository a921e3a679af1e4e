"""dbt test results in the words a finance reviewer reads, from dbt's own artifacts.

Each domain's run keeps its latest build's checks (`dbt_checks.json` in its work folder,
runtime/pipeline/check_results.py), so the page shows every check of every domain, grouped by
domain; `manifest.json` says what each test is: its finance sentence (`config.meta.finance`),
its kind and column. Where no domain kept its checks (dbt run by hand), the last invocation's
`run_results.json` is shown instead.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from runtime.pipeline.check_results import CHECKS_FILE

STATUS_WORDS = {
    "pass": "passed",
    "success": "passed",
    "fail": "FAILED",
    "error": "ERROR (could not run)",
    "warn": "passed with a warning",
    "skipped": "not run (an earlier step failed)",
}
_REF = re.compile(r"""ref\(\s*['"]([^'"]+)['"]\s*\)""")


@dataclass(frozen=True)
class Check:
    """One data test or unit test of the last dbt invocation."""

    name: str
    kind: str  # "test" (data test) or "unit_test"
    sentence: str
    model: str
    status: str
    failures: int
    failures_schema: str | None
    failures_table: str | None
    domain: str = ""  # "<stream> / <domain>" whose build ran it

    @property
    def key(self) -> str:
        """Unique on the page: the same check runs in every domain of the journal chain."""
        return f"{self.domain}:{self.kind}:{self.name}"

    @property
    def status_words(self) -> str:
        return STATUS_WORDS.get(self.status, self.status)

    @property
    def passed(self) -> bool:
        return self.status in ("pass", "success", "warn")

    @property
    def failed(self) -> bool:
        return self.status in ("fail", "error")

    @property
    def order(self) -> tuple:
        """Failures first, then checks that did not run, then passes."""
        return (not self.failed, self.passed, self.model, self.name)


@dataclass(frozen=True)
class CheckResults:
    """The checks of one build (or, combined, of every domain's latest build); `generated_at`
    is None when dbt never ran. `label` names the domain ("<stream> / <domain>")."""

    generated_at: datetime | None
    data_tests: list[Check]
    unit_tests: list[Check]
    label: str = ""

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.data_tests + self.unit_tests if c.failed]

    @property
    def passed_count(self) -> int:
        return sum(c.passed for c in self.data_tests + self.unit_tests)

    @property
    def not_run_count(self) -> int:
        return sum(not (c.passed or c.failed) for c in self.data_tests + self.unit_tests)


def read_domain_checks(target_dir: Path, domain_work: dict[str, Path]) -> list[CheckResults]:
    """Every domain's latest checks (`domain_work`: "<stream> / <domain>" -> its work folder),
    in that order, skipping domains that never built; the descriptions come from the tenant's
    manifest (every check is in it: dbt parses the whole project)."""
    manifest_path = target_dir / "manifest.json"
    manifest = (
        json.loads(manifest_path.read_text(encoding="utf-8")) if manifest_path.is_file() else {}
    )
    by_name = {
        node["name"]: node
        for node in (manifest.get("nodes", {}) | manifest.get("unit_tests", {})).values()
        if node.get("resource_type") in ("test", "unit_test")
    }
    groups = []
    for label, folder in domain_work.items():
        path = folder / CHECKS_FILE
        if not path.is_file():
            continue
        kept = json.loads(path.read_text(encoding="utf-8"))
        data_tests, unit_tests = [], []
        for entry in kept["checks"]:
            check = _kept_check(entry, by_name.get(entry["name"]), label)
            (unit_tests if check.kind == "unit_test" else data_tests).append(check)
        groups.append(
            CheckResults(
                generated_at=datetime.fromisoformat(kept["generated_at"]),
                data_tests=sorted(data_tests, key=lambda c: c.order),
                unit_tests=sorted(unit_tests, key=lambda c: c.order),
                label=label,
            )
        )
    return groups


def combined(groups: list[CheckResults]) -> CheckResults:
    """Every group's checks as one result (the page's totals), dated by the latest group."""
    dates = [g.generated_at for g in groups if g.generated_at is not None]
    return CheckResults(
        generated_at=max(dates) if dates else None,
        data_tests=[c for g in groups for c in g.data_tests],
        unit_tests=[c for g in groups for c in g.unit_tests],
    )


def _kept_check(entry: dict, node: dict | None, label: str) -> Check:
    kind = entry["kind"]
    schema = table = None
    if entry.get("failures_relation") and kind == "test":
        parts = [p.strip('"') for p in str(entry["failures_relation"]).split(".")]
        schema, table = parts[-2], parts[-1]
    if node is None:
        sentence, model = str(entry.get("description") or _humanise(entry["name"])), ""
    else:
        sentence = plain_words(node)
        model = node.get("model") if kind == "unit_test" else _attached_model(node)
    return Check(
        name=entry["name"],
        kind=kind,
        sentence=sentence,
        model=model or "",
        status=str(entry["status"]),
        failures=int(entry.get("failures") or 0),
        failures_schema=schema,
        failures_table=table,
        domain=label,
    )


def read_checks(target_dir: Path) -> CheckResults:
    """Read the checks from a dbt target folder; empty when dbt has not run there yet."""
    results_path, manifest_path = target_dir / "run_results.json", target_dir / "manifest.json"
    if not results_path.is_file() or not manifest_path.is_file():
        return CheckResults(None, [], [])
    results = json.loads(results_path.read_text(encoding="utf-8"))
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    nodes = manifest.get("nodes", {}) | manifest.get("unit_tests", {})
    data_tests, unit_tests = [], []
    for result in results.get("results", []):
        node = nodes.get(result["unique_id"])
        if node is None or node.get("resource_type") not in ("test", "unit_test"):
            continue
        check = _check(node, result)
        (unit_tests if check.kind == "unit_test" else data_tests).append(check)
    generated = results.get("metadata", {}).get("generated_at")
    return CheckResults(
        generated_at=datetime.fromisoformat(generated) if generated else None,
        data_tests=sorted(data_tests, key=lambda c: c.order),
        unit_tests=sorted(unit_tests, key=lambda c: c.order),
    )


def _check(node: dict, result: dict) -> Check:
    kind = node["resource_type"]
    model = node.get("model") if kind == "unit_test" else _attached_model(node)
    stores_failures = kind == "test" and bool(node.get("config", {}).get("store_failures"))
    return Check(
        name=node["name"],
        kind=kind,
        sentence=plain_words(node),
        model=model or "",
        status=str(result.get("status")),
        failures=int(result.get("failures") or 0),
        failures_schema=node.get("schema") if stores_failures else None,
        failures_table=node.get("alias") if stores_failures else None,
    )


def _attached_model(node: dict) -> str:
    attached = node.get("attached_node") or ""
    if attached:
        return attached.rsplit(".", 1)[-1]
    refs = node.get("refs") or []
    if refs:
        return refs[0]["name"]
    sources = node.get("sources") or []  # a check on a source table: [source, table]
    return sources[0][-1] if sources else ""


def plain_words(node: dict) -> str:
    """The test's finance sentence, or one written from its kind, column and model."""
    meta = node.get("config", {}).get("meta") or {}
    if meta.get("finance"):
        return str(meta["finance"])
    if node.get("resource_type") == "unit_test":
        return node.get("description") or _humanise(node["name"])
    test = node.get("test_metadata") or {}
    kind, kwargs = test.get("name", ""), test.get("kwargs") or {}
    column = node.get("column_name") or kwargs.get("column_name")
    model = _attached_model(node)
    if kind == "unique":
        return f"{column} is unique in {model}"
    if kind == "not_null":
        return f"{column} is never empty in {model}"
    if kind == "accepted_values":
        values = ", ".join(str(v) for v in kwargs.get("values") or [])
        return f"{column} in {model} is always one of: {values}"
    if kind == "relationships":
        target = _REF.search(str(kwargs.get("to", "")))
        other = target.group(1) if target else kwargs.get("to")
        return f"every {column} in {model} exists as {kwargs.get('field')} in {other}"
    about = f"{model}.{column}" if column else model
    return f"{_humanise(kind or node['name'])} holds for {about}"


def _humanise(name: str) -> str:
    text = name.replace("__", " ").replace("_", " ").strip()
    return text[:1].upper() + text[1:]
