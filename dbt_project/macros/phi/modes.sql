{#-
  The five PHI handling modes. The domain's mode reaches dbt as the environment variable
  EHRFUSION_PHI_MODE (set by runtime.run.dbt_environment from the domain's `phi_mode`); the key
  version of pseudonyms as EHRFUSION_PHI_KEY_VERSION. Neither is secret. Unset, the mode is
  pseudonymized, the behaviour before modes existed.

  Identifiers take two forms. Inside the warehouse (staging onwards, `phi_identifier`): the raw
  value in direct mode, the random surrogate in safe_harbor, the keyed pseudonym otherwise (an
  internal key for joins and counts). On an outbound line (`patient_reference`): the internal
  form, or null where the mode removes direct identifiers (limited_data_set, aggregate_only).
-#}

{% macro phi_mode() %}
    {%- set mode = env_var('EHRFUSION_PHI_MODE', 'pseudonymized') -%}
    {%- set modes = ['direct', 'limited_data_set', 'safe_harbor', 'pseudonymized', 'aggregate_only'] -%}
    {%- if mode not in modes -%}
        {{ exceptions.raise_compiler_error("EHRFUSION_PHI_MODE must be one of " ~ modes | join(', ')) }}
    {%- endif -%}
    {{ return(mode) }}
{% endmacro %}

{% macro phi_key_version() %}
    {{ return(env_var('EHRFUSION_PHI_KEY_VERSION', 'v1')) }}
{% endmacro %}

{#-
  The identifier as the mode keeps it inside the warehouse; read raw only in staging. In
  safe_harbor, the surrogate is looked up in the restricted map by the keyed pseudonym (never by
  the raw value), as a subquery: evaluated only when the column is read, so queries of other
  columns never need the key.
-#}
{% macro phi_identifier(column, kind) -%}
    {%- set mode = phi_mode() -%}
    {%- if mode == 'direct' -%}
        cast({{ column }} as {{ dbt.type_string() }})
    {%- elif mode == 'safe_harbor' -%}
        (
            select surrogates.surrogate
            from {{ ref('restricted__identifier_surrogates') }} as surrogates
            where
                surrogates.identifier_kind = '{{ kind }}'
                and surrogates.key_version = '{{ phi_key_version() }}'
                and surrogates.identifier_pseudonym = {{ pseudonymize(column, kind) }}
        )
    {%- else -%}
        {{ pseudonymize(column, kind) }}
    {%- endif -%}
{%- endmacro %}

{#- What the mode allows of a patient or account identifier (column from phi_identifier) on an outbound line. -#}
{% macro patient_reference(column) -%}
    {%- if phi_mode() in ['limited_data_set', 'aggregate_only'] -%}
        {{ redact(column) }}
    {%- else -%}
        {{ column }}
    {%- endif -%}
{%- endmacro %}

{#- The key version beside outbound pseudonyms; null where no keyed pseudonym goes out. -#}
{% macro key_version_reference() -%}
    {%- if phi_mode() == 'pseudonymized' -%}
        cast('{{ phi_key_version() }}' as {{ dbt.type_string() }})
    {%- else -%}
        {{ redact('null') }}
    {%- endif -%}
{%- endmacro %}

{#- A source-system record key (journal id, line id): dropped only where nothing patient-level may leave. -#}
{% macro record_reference(column) -%}
    {%- if phi_mode() == 'aggregate_only' -%}
        {{ redact(column) }}
    {%- else -%}
        {{ column }}
    {%- endif -%}
{%- endmacro %}

{#- A date related to an individual (service, admission, birth): safe harbor and aggregates keep no day. -#}
{% macro patient_date(column) -%}
    {%- if phi_mode() in ['safe_harbor', 'aggregate_only'] -%}
        cast(null as date)
    {%- else -%}
        {{ column }}
    {%- endif -%}
{%- endmacro %}

{#- The year of a date related to an individual, which every mode may keep. -#}
{% macro patient_year(column) -%}
    {{ safe_harbor_year(column) }}
{%- endmacro %}

{#- A patient ZIP code: five digits where the mode keeps geography, zip3 (or 000) otherwise. -#}
{% macro patient_zip(column, restricted_zip3) -%}
    {%- if phi_mode() in ['safe_harbor', 'aggregate_only'] -%}
        {{ safe_harbor_zip3(column, restricted_zip3) }}
    {%- else -%}
        {{ column }}
    {%- endif -%}
{%- endmacro %}

{#- A published patient count, null below the minimum cell size (small cells re-identify). -#}
{% macro small_cell_count(column, minimum=11) -%}
    case when {{ column }} >= {{ minimum }} then {{ column }} end
{%- endmacro %}

{#- A random surrogate (UUID text), not derived from anything about the individual. -#}
{% macro random_surrogate() %}
    {{ return(adapter.dispatch('random_surrogate', 'ehrfusion')()) }}
{% endmacro %}

{% macro default__random_surrogate() -%}
    cast(gen_random_uuid() as {{ dbt.type_string() }})
{%- endmacro %}

{% macro duckdb__random_surrogate() -%}
    cast(uuid() as {{ dbt.type_string() }})
{%- endmacro %}
