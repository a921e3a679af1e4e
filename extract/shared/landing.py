"""The one place a dlt pipeline into the warehouse is built and run.

Every source lands through `load_into`: a pipeline named for the tenant's stream and domain,
the warehouse's dlt destination, the tenant's schema for the source's raw layer, Parquet files
into DuckDB and CSV into Postgres. Rows, dead letters and cursor state commit in that one
load; completed load packages are deleted, as they would otherwise keep a copy of the raw
rows (PHI) in the work folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dlt
from dlt.common.pipeline import LoadInfo

from runtime.core.private_files import private_folder
from runtime.core.warehouse import Warehouse


def warehouse_pipeline(
    warehouse: Warehouse, pipeline_name: str, layer: str, pipelines_dir: Path
) -> dlt.Pipeline:
    """A dlt pipeline into `<tenant>_<layer>` of the warehouse, state under `pipelines_dir`."""
    # Loaded packages would otherwise keep a copy of the raw rows (PHI) in the work folder.
    dlt.config["load.delete_completed_jobs"] = True
    private_folder(pipelines_dir)  # extracted rows wait here until they load
    return dlt.pipeline(
        pipeline_name=pipeline_name,
        destination=warehouse.dlt_destination(),
        dataset_name=warehouse.schema(layer),
        pipelines_dir=str(pipelines_dir),
    )


def load_into(
    warehouse: Warehouse, pipeline_name: str, layer: str, pipelines_dir: Path, source: Any
) -> LoadInfo:
    """Run a dlt source into `<tenant>_<layer>` in one load."""
    pipeline = warehouse_pipeline(warehouse, pipeline_name, layer, pipelines_dir)
    file_format = "parquet" if warehouse.kind == "duckdb" else "csv"
    return pipeline.run(source, loader_file_format=file_format)
