"""Run a configured source into the warehouse's raw layer with dlt."""

from __future__ import annotations

from pathlib import Path

import dlt

from extract.dead_letter import DeadLetterStore
from extract.epic import settings as epic_settings
from extract.epic.resolute import ExtractReport, resolute_journal_source
from runtime.warehouse import Warehouse


def run_extract(
    warehouse: Warehouse,
    pipeline_name: str,
    location: Path,
    dead_letter_dir: Path,
    pipelines_dir: Path,
) -> ExtractReport:
    """Land new feed files; rows, dead letters and the file cursor commit in one load."""
    report = ExtractReport()
    # Loaded packages would otherwise keep a copy of the raw rows (PHI) in the work folder.
    dlt.config["load.delete_completed_jobs"] = True
    pipeline = dlt.pipeline(
        pipeline_name=pipeline_name,
        destination=warehouse.dlt_destination(),
        dataset_name=warehouse.schema(epic_settings.DATASET_LAYER),
        pipelines_dir=str(pipelines_dir),
    )
    source = resolute_journal_source(location, DeadLetterStore(dead_letter_dir), report)
    file_format = "parquet" if warehouse.kind == "duckdb" else "csv"
    pipeline.run(source, loader_file_format=file_format)
    return report
