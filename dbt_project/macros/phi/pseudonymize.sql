{#-
  Keyed HMAC-SHA256 pseudonym of an identifier, hex encoded: hmac(key, '<kind>:<value>').
  Equal to runtime.phi.pseudonymize() in Python. The key reaches the warehouse through the
  connection (DuckDB: key pads from functions registered by runtime.dbt_duckdb_phi; Postgres:
  session setting ehrfusion.phi_key), never through SQL text, vars or env_var(), so it cannot
  land in target/.
-#}
{% macro pseudonymize(column, kind) %}
    {{ return(adapter.dispatch('pseudonymize', 'ehrfusion')(column, kind)) }}
{% endmacro %}

{% macro default__pseudonymize(column, kind) %}
    {{ exceptions.raise_compiler_error("pseudonymize() has no implementation for " ~ target.type) }}
{% endmacro %}

{% macro duckdb__pseudonymize(column, kind) -%}
    sha256(
        ehrfusion_phi_outer_pad()
        || unhex(sha256(ehrfusion_phi_inner_pad() || encode('{{ kind }}:' || {{ column }})))
    )
{%- endmacro %}

{% macro postgres__pseudonymize(column, kind) -%}
    encode(
        hmac(
            convert_to('{{ kind }}:' || {{ column }}, 'UTF8'),
            convert_to(current_setting('ehrfusion.phi_key'), 'UTF8'),
            'sha256'
        ),
        'hex'
    )
{%- endmacro %}

{#-
  Pseudonym of a patient known by a source system's local id: kind `patient` over
  '<source system>:<local id>' (`source_system` is SQL: a quoted name or a column). A patient
  dbMotion links to an enterprise id is named by the pseudonym of that id instead, same kind
  (int_identity__patient_pseudonyms).
-#}
{% macro local_patient_pseudonym(source_system, local_id) -%}
    {{ pseudonymize(source_system ~ " || ':' || cast(" ~ local_id ~ " as " ~ dbt.type_string() ~ ")", 'patient') }}
{%- endmacro %}
