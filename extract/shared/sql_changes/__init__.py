"""Read a SQL source's changes into the raw layer: SQL Server CDC, change tracking, watermarks.

One reader serves every SQL source, configured per mechanism (docs/sql_sources.md):

* `cdc` (cdc.py): net changes per key from the change tables, between the last processed LSN
  and the current maximum LSN; deletes are honoured.
* `change_tracking` (change_tracking.py): the rows changed since the last synchronised
  version, joined to their current values; deleted keys come back as deletes.
* `watermark` (watermark.py): rows whose cursor column (`last_modified`) moved past the
  watermark, re-reading an overlap window so rows whose transaction committed late are not
  missed; rows already landed with the same key and cursor are dropped, and keys gone from
  the source are deleted.

The first run of a table, a cursor below the oldest change the source still holds (CDC
retention, change tracking's minimum valid version), a source that moved behind the cursor
(a restore) and a change of mechanism resynchronise the table (reader.py): a full snapshot
plus a delete for every landed key the source no longer has. Every batch lands with dlt's
merge on the primary key (source.py); a delete is a key with `_deleted` set: dlt's
hard-delete hint, so the raw table equals the source, or, for a table declared with
`tombstones`, a soft flag: the deleted row stays with its last values and `_deleted` true
(its `_dlt_load_id` is the load that landed the delete), so downstream models can undo what
the row caused; a re-inserted key replaces its tombstone.

Each table's cursor lives in its dlt resource state and commits in the same load as its rows.
The SQL Server statements sit behind one seam (sqlserver.py, `SqlServer`); a database that
keeps the same objects as plain tables, such as the sandbox's SQLite and Postgres stand-ins,
uses `PlainTables` (plain_tables.py). Rows are read in chunks and turned into Arrow column by
column against the table's contract (tables.py); a row whose value does not fit goes to the
dead-letter store. Reports, logs and errors carry counts, cursors and names, never row values.
"""

from extract.shared.sql_changes.cdc import Cdc
from extract.shared.sql_changes.change_tracking import ChangeTracking
from extract.shared.sql_changes.plain_tables import PlainTables, dialect_for
from extract.shared.sql_changes.reader import Mechanism, SqlSource, mechanism_for, read_table
from extract.shared.sql_changes.source import (
    SqlSourceSettings,
    connect,
    extract_sql,
    landed_keys,
    landed_rows,
    run_sql_source,
    sql_changes_source,
)
from extract.shared.sql_changes.sqlserver import SqlServer
from extract.shared.sql_changes.tables import (
    CHUNK_ROWS,
    DEFAULT_OVERLAP,
    DELETED,
    MECHANISMS,
    SYNC_LOG,
    SourceError,
    SqlExtractReport,
    TableSpec,
    TableSync,
    to_arrow,
)
from extract.shared.sql_changes.watermark import Watermark

__all__ = [
    "CHUNK_ROWS",
    "DEFAULT_OVERLAP",
    "DELETED",
    "MECHANISMS",
    "SYNC_LOG",
    "Cdc",
    "ChangeTracking",
    "Mechanism",
    "PlainTables",
    "SourceError",
    "SqlExtractReport",
    "SqlServer",
    "SqlSource",
    "SqlSourceSettings",
    "TableSpec",
    "TableSync",
    "Watermark",
    "connect",
    "dialect_for",
    "extract_sql",
    "landed_keys",
    "landed_rows",
    "mechanism_for",
    "read_table",
    "run_sql_source",
    "sql_changes_source",
    "to_arrow",
]
