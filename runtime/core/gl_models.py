"""The relations of the one journal chain every GL source runs through.

A GL source contributes one dbt model of journal lines in the canonical shape (named in
runtime/core/catalog.py, contract in dbt_project/models/intermediate/_journal__contributions.yml);
the chain after it (mapped -> validated -> deltas -> GlInterface mart, exceptions, finance
review, reconciliation) is written once. Its tables are shared by the tenant's GL domains and
hold each domain's rows apart by (stream_name, domain_name): a build writes only its own rows,
and every read here selects them with `GlChain.rows`.
"""

from __future__ import annotations

from dataclasses import dataclass

from runtime.core.warehouse import Warehouse

# The chain's relations by role, with the dbt folder (hence schema) each lives in.
_MODELS = {
    "posted": ("staging", "stg_ops__fusion_posted_lines"),  # what Fusion accepted for the domain
    "validated": ("intermediate", "int_journal_lines_validated"),  # exceptions, batch, path
    "deltas": ("intermediate", "int_journal_line_deltas"),  # what each batch still needs posted
    "gl_interface": ("marts", "fusion__gl_interface"),  # the GlInterface rows
    "exceptions": ("marts", "exceptions__gl_journal_lines"),  # held lines with reasons
    "review": ("marts", "exceptions__gl_closed_period_corrections"),  # closed-period corrections
    "recon": ("marts", "recon__gl_journal_daily"),  # per batch: posted + exported + exceptions
}
GL_INTERFACE = _MODELS["gl_interface"][1]


@dataclass(frozen=True)
class GlChain:
    """One GL domain's view of the shared chain."""

    stream: str
    domain: str

    @staticmethod
    def model(role: str) -> str:
        return _MODELS[role][1]

    @staticmethod
    def relation(warehouse: Warehouse, role: str) -> str:
        """`schema.table` of the model in `role`: every domain's rows."""
        layer, model = _MODELS[role]
        return f"{warehouse.schema(layer)}.{model}"

    @property
    def condition(self) -> str:
        """SQL selecting this domain's rows of a chain relation."""
        return f"stream_name = {_quote(self.stream)} and domain_name = {_quote(self.domain)}"

    def rows(self, warehouse: Warehouse, role: str, alias: str) -> str:
        """This domain's rows of the model in `role`, as a FROM item named `alias`."""
        return f"(select * from {self.relation(warehouse, role)} where {self.condition}) as {alias}"


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"
