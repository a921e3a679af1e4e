"""Shared fixtures: a real PostgreSQL server started from the machine's binaries, the sandbox,
and a config file pointing a test tenant at them.

What is expensive and the same in every test is shared within a test process: dbt's parse of
the project (every run keeps its parse states in one folder per process instead of each test's
own work folder; dbt checks each state against the files, environment and profile before using
it) and the name of the Postgres database a test gets (a new, empty one each time, always named
alike, so the profile is the same and the parse is reused)."""

from __future__ import annotations

import glob
import json
import os
import pprint
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import psycopg2
import pytest
import requests
import yaml
from click.testing import CliRunner
from dbt.contracts.files import FileHash
from dbt.parser.manifest import ManifestLoader

from cli import main
from runtime.core.config import load_config
from runtime.core.warehouse import Warehouse
from runtime.pipeline import dbt
from sandbox.fusion.server import CLIENT_ID, CLIENT_SECRET, FusionSimulator
from sandbox.generate import generate

TENANT = "testhosp"
PHI_KEY = "test-phi-key-0123456789abcdef0123456789abcdef"
PG_PASSWORD = "pg-test-secret-5f1c"


def _pg_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}")) or [shutil.which(name)]
    if not found or not found[-1]:
        pytest.fail(f"PostgreSQL binary {name} not found; install the postgresql package")
    return found[-1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def pg_server():
    """A throwaway PostgreSQL cluster on 127.0.0.1, owned by the postgres user when run as root.
    It is never recovered after a crash, so it does not wait for the disk at every commit
    (fsync and full-page writes off); what it stores and answers is the same."""
    base = Path(tempfile.mkdtemp(prefix="ehrfusion-pg-"))
    data, pwfile = base / "data", base / "pwfile"
    pwfile.write_text(PG_PASSWORD)
    run_as: list[str] = []
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        for path in (base, pwfile):
            os.chown(path, user.pw_uid, user.pw_gid)
        run_as = ["runuser", "-u", "postgres", "--"]
    port = _free_port()
    subprocess.run(
        [*run_as, _pg_bin("initdb"), "-D", str(data), "-U", "postgres", "--auth=scram-sha-256",
         f"--pwfile={pwfile}", "-E", "UTF8", "--no-locale"],
        check=True, capture_output=True,
    )  # fmt: skip
    options = (
        f"-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories={base} "
        "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    )
    subprocess.run(
        [*run_as, _pg_bin("pg_ctl"), "-D", str(data), "-o", options, "-l", str(base / "log"),
         "-w", "start"],
        check=True, capture_output=True,
    )  # fmt: skip
    try:
        yield {"host": "127.0.0.1", "port": port, "user": "postgres", "password": PG_PASSWORD}
    finally:
        subprocess.run(
            [*run_as, _pg_bin("pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
            capture_output=True,
        )
        shutil.rmtree(base, ignore_errors=True)


def _dsn(server: dict, dbname: str) -> str:
    return (
        f"postgresql://{server['user']}:{server['password']}@{server['host']}:{server['port']}"
        f"/{dbname}"
    )


@pytest.fixture
def pg_dsn(pg_server) -> str:
    """A fresh, empty database in the test server, for one test. Every test of the process gets
    the same name (the previous test's database is dropped first), so dbt's profile, and with
    it the parse, stays the same from test to test."""
    name = "t_warehouse"
    admin = psycopg2.connect(_dsn(pg_server, "postgres"))
    admin.autocommit = True
    admin.cursor().execute(f"drop database if exists {name} with (force)")
    admin.cursor().execute(f"create database {name}")
    admin.close()
    return _dsn(pg_server, name)


@pytest.fixture(scope="session")
def dbt_parse_states(tmp_path_factory) -> Path:
    """One folder of dbt parse states for the test process. Each test keeps its DuckDB file in
    its own folder, and dbt's profile check compares the file's whole path; the parse depends
    only on its name (DuckDB's database name is the file's stem), so in tests the check
    compares that: everything else in the profile, every file and env_var() value is checked
    as in production."""
    original = ManifestLoader.build_manifest_state_check

    def by_file_name(loader):
        check = original(loader)
        credentials = loader.root_project.credentials
        if credentials.type == "duckdb":
            profile = sorted(
                (key, Path(value).name if key == "path" else value)
                for key, value in credentials.connection_info()
            )
            check.profile_hash = FileHash.from_contents(pprint.pformat(profile))
        return check

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ManifestLoader, "build_manifest_state_check", by_file_name)
        yield tmp_path_factory.mktemp("dbt-parse")


@pytest.fixture(autouse=True)
def shared_dbt_parse(dbt_parse_states, monkeypatch) -> None:
    """Runs in this process, and the processes it starts, keep dbt's parse states in one
    folder for every test."""
    monkeypatch.setenv(dbt.PARSE_DIR_ENV, str(dbt_parse_states))


@pytest.fixture
def phi_key(monkeypatch) -> str:
    monkeypatch.setenv(f"EHRFUSION__{TENANT.upper()}__PHI_KEY", PHI_KEY)
    return PHI_KEY


@pytest.fixture(params=["duckdb", "postgres"])
def warehouse_kind(request) -> str:
    return request.param


@pytest.fixture
def warehouse_arg(warehouse_kind, request) -> str:
    """The --warehouse value for the parametrised engine."""
    if warehouse_kind == "duckdb":
        return "duckdb"
    return request.getfixturevalue("pg_dsn")


@pytest.fixture
def warehouse(warehouse_kind, tmp_path, request) -> Warehouse:
    """An empty warehouse for the test tenant on the parametrised engine."""
    if warehouse_kind == "duckdb":
        return Warehouse("duckdb", TENANT, duckdb_path=tmp_path / "warehouse.duckdb")
    return Warehouse("postgres", TENANT, dsn=request.getfixturevalue("pg_dsn"))


def write_config(root: Path, sandbox_dir: Path, **domain_overrides) -> Path:
    """A one-tenant config under `root` reading the sandbox in `sandbox_dir`."""
    domain = {
        "enabled": True,
        "source": "epic_resolute_journal",
        "endpoint": "epic_resolute_journal",
        "cadence": "daily",
        "run_at": "02:30",
        "phi_mode": "pseudonymized",
        "fusion": {
            "object": "GlInterface",
            "release": "25B",
            "ledger_id": 300000046975971,
            "ledger_name": "EHF US Primary Ledger",
            "business_unit": "EHF US Business Unit",
            "journal_source": "Epic Resolute",
            "journal_category": "Patient Revenue",
        },
    } | domain_overrides
    document = {
        "version": 1,
        "paths": {"work_dir": "work", "outbox": "outbox", "dead_letter": "dead_letter"},
        "tenants": {
            TENANT: {
                "warehouse": {"kind": "duckdb", "path": "warehouse/testhosp.duckdb"},
                "endpoints_file": str(sandbox_dir / "endpoints.json"),
                "streams": {"epic": {"domains": {"gl_journal": domain}}},
            }
        },
    }
    path = root / "ehrfusion.yml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


WORLD_SCALE = 3000


@pytest.fixture
def world(tmp_path, phi_key, warehouse_arg):
    """A generated sandbox, a config pointing at it, and a way to run the domain."""
    sandbox_dir = tmp_path / "sandbox"
    generate(sandbox_dir, seed=11, scale=WORLD_SCALE)
    config_path = write_config(tmp_path, sandbox_dir)

    def run(*extra: str) -> tuple[int, dict]:
        args = ["run", "--config", str(config_path), "--tenant", TENANT, "--stream", "epic"]
        args += ["--domain", "gl_journal", "--warehouse", warehouse_arg, "--json", *extra]
        result = CliRunner().invoke(main, args)
        return result.exit_code, json.loads(result.stdout)

    class World:
        root = tmp_path
        drop = sandbox_dir / "epic" / "resolute"
        outbox = tmp_path / "outbox" / TENANT / "epic" / "gl_journal"
        config = load_config(config_path)
        warehouse = Warehouse.for_tenant(config.tenants[TENANT], warehouse_arg)

    World.warehouse_arg = warehouse_arg

    World.run = staticmethod(run)
    return World


def set_knobs(simulator, **values) -> None:
    """Change the Fusion simulator's test knobs (slow or failing jobs, 5xx, combinations...)."""
    url = f"{simulator.url}/__sandbox__/knobs"
    requests.post(url, json=values, timeout=10).raise_for_status()


def ledger_lines(simulator) -> list[dict]:
    """Every journal line the Fusion simulator posted."""
    return requests.get(f"{simulator.url}/__sandbox__/ledger", timeout=30).json()["items"]


@pytest.fixture
def fusion(world, monkeypatch):
    """The Fusion simulator serving the world's endpoints, with the sandbox client credentials;
    its jobs run asynchronously without the default delay."""
    for name, value in (("CLIENT_ID", CLIENT_ID), ("CLIENT_SECRET", CLIENT_SECRET)):
        monkeypatch.setenv(f"EHRFUSION__{TENANT.upper()}__FUSION_{name}", value)
    with FusionSimulator(world.config.tenants[TENANT].endpoints_file) as simulator:
        set_knobs(simulator, job_seconds=0)
        yield simulator
