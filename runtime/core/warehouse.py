"""One warehouse abstraction over two engines: a DuckDB file (embedded default) or Postgres.

Everything that touches the warehouse goes through here: the dlt destination, the environment
dbt's profile reads, queries, and Arrow streams for exports.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import psycopg2
import psycopg2.extensions
import pyarrow as pa
import pyarrow.csv as pacsv

from runtime.core.config import ConfigError, Tenant
from runtime.core.phi import KEY_ENV, PG_SETTING
from runtime.core.private_files import private_file, private_folder
from runtime.core.secrets import require_secret

BATCH_ROWS = 100_000
# DuckDB's memory for one run's process (dbt's connections, exports, queries all share the
# file's database instance): past it, DuckDB spills to a `<file>.tmp` folder beside the file
# (PHI, in the warehouse's owner-only folder). With Python, dbt and Arrow batches beside it, a
# run at 10M journal lines stays under 2 GiB; at 1M lines little or nothing spills.
DUCKDB_MEMORY_LIMIT = "1400MB"


@dataclass(frozen=True)
class Warehouse:
    """Where one tenant's data lives. `dsn` is a secret and never printed."""

    kind: str
    tenant: str
    duckdb_path: Path | None = None
    dsn: str | None = field(default=None, repr=False)

    @classmethod
    def for_tenant(cls, tenant: Tenant, override: str | None = None) -> Warehouse:
        """The tenant's configured warehouse, or the one named on the command line.

        `override` is `duckdb`, `postgres` (DSN from the tenant's `warehouse_dsn` secret) or a
        `postgresql://` DSN.
        """
        kind = override or tenant.warehouse.kind
        if kind.startswith(("postgresql://", "postgres://")):
            return cls("postgres", tenant.name, dsn=kind)
        if kind == "postgres":
            dsn = require_secret(tenant.name, "warehouse_dsn", "the Postgres warehouse DSN")
            return cls("postgres", tenant.name, dsn=dsn)
        if kind == "duckdb":
            path = tenant.warehouse.path
            if path is None:
                raise ConfigError(
                    f"tenants.{tenant.name}.warehouse.path", "set a DuckDB file for this tenant"
                )
            return cls("duckdb", tenant.name, duckdb_path=path)
        raise ConfigError("--warehouse", f"{kind!r} is not duckdb, postgres or a postgresql:// DSN")

    @property
    def label(self) -> str:
        """A printable description without credentials."""
        if self.kind == "duckdb":
            return f"duckdb:{self.duckdb_path}"
        params = self._pg_params()
        return f"postgres:{params.get('host', 'localhost')}:{params.get('port', '5432')}/" + (
            params.get("dbname", "")
        )

    def schema(self, layer: str) -> str:
        """Tenant-isolated schema for a layer (`raw_epic`, `staging`, `marts`, ...)."""
        return f"{self.tenant}_{layer}"

    # dlt -------------------------------------------------------------------------------------
    def dlt_destination(self):
        import dlt

        if self.kind == "duckdb":
            private_folder(self.duckdb_path.parent)
            return dlt.destinations.duckdb(credentials=str(self.duckdb_path))
        return dlt.destinations.postgres(credentials=self.dsn)

    # dbt -------------------------------------------------------------------------------------
    def dbt_env(self, phi_key: str) -> dict[str, str]:
        """Environment for one dbt invocation; profiles.yml reads it through env_var()."""
        env = {"EHRFUSION_TENANT": self.tenant, "EHRFUSION_DBT_TARGET": self.kind}
        if self.kind == "duckdb":
            env["EHRFUSION_DUCKDB_PATH"] = str(self.duckdb_path)
            env["EHRFUSION_DUCKDB_MEMORY_LIMIT"] = DUCKDB_MEMORY_LIMIT
            env[KEY_ENV] = phi_key
            return env
        params = self._pg_params()
        env |= {
            "EHRFUSION_PG_HOST": params.get("host", "localhost"),
            "EHRFUSION_PG_PORT": params.get("port", "5432"),
            "EHRFUSION_PG_USER": params.get("user", ""),
            "EHRFUSION_PG_DBNAME": params.get("dbname", ""),
            "DBT_ENV_SECRET_EHRFUSION_PG_PASSWORD": params.get("password", ""),
            # dates taken from timestamps are UTC days whatever the server's time zone
            "PGOPTIONS": f"-c {PG_SETTING}={phi_key} -c TimeZone=UTC",
        }
        return env

    def _pg_params(self) -> dict[str, str]:
        try:
            return psycopg2.extensions.parse_dsn(self.dsn)
        except psycopg2.ProgrammingError:
            raise ConfigError("warehouse DSN", "not a valid Postgres connection string") from None

    # queries ---------------------------------------------------------------------------------
    @contextlib.contextmanager
    def connect(self):
        """A DB-API connection, closed on exit (DuckDB files allow one writer process)."""
        if self.kind == "duckdb":
            private_folder(self.duckdb_path.parent)
            con = duckdb.connect(str(self.duckdb_path))
            private_file(self.duckdb_path)
            # a setting of the database instance, shared with any other connection to the file
            con.execute(f"set memory_limit = '{DUCKDB_MEMORY_LIMIT}'")
        else:
            con = psycopg2.connect(self.dsn)
        try:
            yield con
            con.commit()
        finally:
            con.close()

    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        """Run a small query and return all rows; placeholders are written `%s`."""
        if self.kind == "duckdb":
            sql = sql.replace("%s", "?")
        with self.connect() as con:
            cur = con.cursor()
            cur.execute(sql, params)
            return cur.fetchall() if cur.description else []

    def stream_arrow(self, con, sql: str, batch_rows: int = BATCH_ROWS) -> Iterator[pa.RecordBatch]:
        """Stream a query's result over an open connection as Arrow record batches, without
        holding all rows in memory.

        On Postgres the result is copied as CSV to a temporary file and read back as Arrow, so
        values arrive as text in the warehouse's canonical formats (ISO dates, plain decimals).
        """
        if self.kind == "duckdb":
            yield from con.sql(sql).to_arrow_reader(batch_rows)
            return
        with tempfile.TemporaryFile() as spool:
            cur = con.cursor()
            cur.copy_expert(f"copy ({sql}) to stdout with (format csv, header true)", spool)
            spool.seek(0)
            header = spool.readline().decode().rstrip("\r\n").split(",")
            spool.seek(0)
            convert = pacsv.ConvertOptions(
                column_types={name: pa.string() for name in header},
                strings_can_be_null=True,
                quoted_strings_can_be_null=False,
            )
            reader = pacsv.open_csv(
                spool,
                read_options=pacsv.ReadOptions(block_size=16 << 20),
                convert_options=convert,
            )
            yield from reader
