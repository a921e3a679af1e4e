"""The relations each GL source's journal chain builds (dbt_project/macros/journal/), by source.

Every GL source runs the same chain (mapped -> validated -> deltas -> Fusion mart, exceptions,
finance review, reconciliation) under its own model names, so a domain builds and reads only
its own relations and streams never rebuild each other's tables.
"""

from __future__ import annotations

from dataclasses import dataclass

from runtime.warehouse import Warehouse


@dataclass(frozen=True)
class GlModels:
    posted: str  # staging: what Fusion accepted for the domain
    validated: str  # intermediate: current lines, exceptions, batch and correction path
    deltas: str  # intermediate: what each batch still needs posted
    gl_interface: str  # mart: the GlInterface rows
    exceptions: str  # mart: held lines with reasons
    review: str  # mart: closed-period corrections for finance review
    recon: str  # mart: per batch, source = posted before + exported + exceptions

    def relation(self, warehouse: Warehouse, role: str) -> str:
        """`schema.table` of the model in `role` (a field name, e.g. "validated")."""
        return f"{warehouse.schema(_LAYERS.get(role, 'marts'))}.{getattr(self, role)}"


# The dbt project's folder (hence schema) of each role that is not a mart.
_LAYERS = {"posted": "staging", "validated": "intermediate", "deltas": "intermediate"}


GL_MODELS = {
    "epic_resolute_journal": GlModels(
        posted="stg_ops__fusion_posted_lines",
        validated="int_journal_lines_validated",
        deltas="int_journal_line_deltas",
        gl_interface="fusion__gl_interface",
        exceptions="exceptions__gl_journal_lines",
        review="exceptions__gl_closed_period_corrections",
        recon="recon__gl_journal_daily",
    ),
    "allscripts_sunrise": GlModels(
        posted="stg_ops__sunrise_posted_lines",
        validated="int_sunrise__journal_lines_validated",
        deltas="int_sunrise__journal_line_deltas",
        gl_interface="fusion__gl_interface_sunrise",
        exceptions="exceptions__gl_journal_lines_sunrise",
        review="exceptions__gl_closed_period_corrections_sunrise",
        recon="recon__gl_journal_daily_sunrise",
    ),
    "veradigm_touchworks": GlModels(
        posted="stg_ops__touchworks_posted_lines",
        validated="int_touchworks__journal_lines_validated",
        deltas="int_touchworks__journal_line_deltas",
        gl_interface="fusion__gl_interface_touchworks",
        exceptions="exceptions__gl_journal_lines_touchworks",
        review="exceptions__gl_closed_period_corrections_touchworks",
        recon="recon__gl_journal_daily_touchworks",
    ),
    "practice_fusion": GlModels(
        posted="stg_ops__practice_fusion_posted_lines",
        validated="int_practice_fusion__journal_lines_validated",
        deltas="int_practice_fusion__journal_line_deltas",
        gl_interface="fusion__gl_interface_practice_fusion",
        exceptions="exceptions__gl_journal_lines_practice_fusion",
        review="exceptions__gl_closed_period_corrections_practice_fusion",
        recon="recon__gl_journal_daily_practice_fusion",
    ),
    "veradigm_unity": GlModels(
        posted="stg_ops__unity_posted_lines",
        validated="int_unity__journal_lines_validated",
        deltas="int_unity__journal_line_deltas",
        gl_interface="fusion__gl_interface_unity",
        exceptions="exceptions__gl_journal_lines_unity",
        review="exceptions__gl_closed_period_corrections_unity",
        recon="recon__gl_journal_daily_unity",
    ),
}


def gl_models(source: str) -> GlModels:
    """The chain of a GL source (config validation admits only sources that have one)."""
    return GL_MODELS[source]
