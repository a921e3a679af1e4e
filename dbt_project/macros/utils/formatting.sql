{#- A date as YYYYMMDD text, independent of the session's date style. -#}
{% macro format_yyyymmdd(column) %}
    {{ return(adapter.dispatch('format_yyyymmdd', 'ehrfusion')(column)) }}
{% endmacro %}

{% macro default__format_yyyymmdd(column) -%}
    to_char({{ column }}, 'YYYYMMDD')
{%- endmacro %}

{% macro duckdb__format_yyyymmdd(column) -%}
    strftime({{ column }}, '%Y%m%d')
{%- endmacro %}

{#- A run setting (environment variable set by ehrfusion) as a safely quoted SQL string. -#}
{% macro setting_literal(name) -%}
    '{{ env_var(name) | replace("'", "''") }}'
{%- endmacro %}
