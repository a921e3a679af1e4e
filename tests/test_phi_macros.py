"""The PHI macros (building blocks and the five modes), run by dbt on DuckDB and on Postgres
and compared with their Python twin."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from dbt.cli.main import dbtRunner

from runtime.core.config import PHI_MODES
from runtime.core.phi import PhiPolicy, load_restricted_zip3, pseudonymize
from runtime.core.warehouse import Warehouse
from runtime.pipeline.dbt import PROJECT_DIR, scoped_environment
from runtime.pipeline.run import TARGET_SETTINGS_ENV
from tests.conftest import PHI_KEY

MODE_CASES = """
    {% set zip3 = ref('safe_harbor_restricted_zip3') %}
    {% set mrn = phi_identifier("'MRN1'", 'mrn') %}
    {% set day = "cast('2026-10-05' as date)" %}
    select 'reference' as name, coalesce({{ patient_reference(mrn) }}, 'null') as value
    union all select 'key_version', coalesce({{ key_version_reference() }}, 'null')
    union all select 'record', coalesce({{ record_reference("'J1'") }}, 'null')
    union all select 'date', coalesce(cast({{ patient_date(day) }} as varchar), 'null')
    union all select 'year', cast({{ patient_year(day) }} as varchar)
    union all select 'zip', {{ patient_zip("'03601'", zip3) }}
    union all select 'small_cell', coalesce(cast({{ small_cell_count('10') }} as varchar), 'null')
    union all select 'cell', cast({{ small_cell_count('11') }} as varchar)
    union all select 'surrogate', {{ random_surrogate() }}
"""

CASES = """
    {% set zip3 = ref('safe_harbor_restricted_zip3') %}
    {% set born = "cast('1950-07-04' as date)" %}
    select 'zip_low_population' as name, {{ safe_harbor_zip3("'03601'", zip3) }} as value
    union all select 'zip_kept', {{ safe_harbor_zip3("'60614'", zip3) }}
    union all select 'zip_short', coalesce({{ safe_harbor_zip3("'12'", zip3) }}, 'null')
    union all select 'year', cast({{ safe_harbor_year(born) }} as varchar)
    union all select 'age_89', {{ safe_harbor_age('89') }}
    union all select 'age_90', {{ safe_harbor_age('90') }}
    union all select 'redacted', coalesce({{ redact("'Jane'") }}, 'null')
    union all select 'pseudonym', {{ pseudonymize("'MRN123'", 'mrn') }}
"""


def dbt(warehouse: Warehouse, tmp_path: Path, *args: str, mode: str = "pseudonymized"):
    unset = dict.fromkeys(TARGET_SETTINGS_ENV, "")  # the target settings this test needs not
    env = (
        unset
        | warehouse.dbt_env(PHI_KEY)
        | {
            "EHRFUSION_PHI_MODE": mode,
            "EHRFUSION_PHI_KEY_VERSION": "v4",
            "EHRFUSION_LEDGER_ID": "1",
            "EHRFUSION_LEDGER_NAME": "L",
            "EHRFUSION_JOURNAL_SOURCE": "S",
            "EHRFUSION_JOURNAL_CATEGORY": "C",
            "EHRFUSION_STREAM": "epic",
            "EHRFUSION_DOMAIN": "gl_journal",
        }
    )
    paths = ["--project-dir", str(PROJECT_DIR), "--profiles-dir", str(PROJECT_DIR)]
    paths += ["--target-path", str(tmp_path / "target"), "--log-path", str(tmp_path / "logs")]
    with scoped_environment(env):
        result = dbtRunner().invoke([*args, *paths, "--log-level", "none"])
    assert result.success, result.exception
    return result.result


def test_safe_harbor_and_limited_data_set_building_blocks(warehouse, tmp_path):
    dbt(warehouse, tmp_path, "seed", "--select", "safe_harbor_restricted_zip3")
    shown = dbt(warehouse, tmp_path, "show", "--inline", CASES, "--limit", "20")
    values = {name: value for name, value in shown.results[0].agate_table.rows}

    assert values["zip_low_population"] == "000"
    assert values["zip_kept"] == "606"
    assert values["zip_short"] == "null"
    assert values["year"] == "1950"
    assert values["age_89"] == "89"
    assert values["age_90"] == "90+"
    assert values["redacted"] == "null"
    assert values["pseudonym"] == pseudonymize("MRN123", "mrn", PHI_KEY)


@pytest.mark.parametrize("mode", [m for m in PHI_MODES if m != "safe_harbor"])
def test_mode_macros_equal_the_python_twin(warehouse, tmp_path, mode):
    dbt(warehouse, tmp_path, "seed", "--select", "safe_harbor_restricted_zip3", mode=mode)
    shown = dbt(warehouse, tmp_path, "show", "--inline", MODE_CASES, "--limit", "20", mode=mode)
    values = {name: value for name, value in shown.results[0].agate_table.rows}
    twin = PhiPolicy(mode, PHI_KEY, "v4")

    def text(value) -> str:
        return "null" if value is None else str(value)

    assert values["reference"] == text(twin.patient_reference("MRN1", "mrn"))
    assert values["key_version"] == text(twin.key_version_reference())
    assert values["record"] == text(twin.record_reference("J1"))
    assert values["date"] == text(twin.patient_date(date(2026, 10, 5)))
    assert values["year"] == "2026"
    assert values["zip"] == twin.patient_zip("03601", load_restricted_zip3())
    assert (values["small_cell"], values["cell"]) == ("null", "11")
    assert len(values["surrogate"]) == 36
