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

{#- The first 60 bits of md5(text) as a non-negative bigint, identical on both engines: a
    numeric key for sources whose record ids are strings. -#}
{% macro md5_bigint60(text) %}
    {{ return(adapter.dispatch('md5_bigint60', 'ehrfusion')(text)) }}
{% endmacro %}

{% macro default__md5_bigint60(text) -%}
    ('x' || substr(md5({{ text }}), 1, 15))::bit(60)::bigint
{%- endmacro %}

{% macro duckdb__md5_bigint60(text) -%}
    cast('0x' || substr(md5({{ text }}), 1, 15) as bigint)
{%- endmacro %}
