{#-
  Models shared by every domain of a tenant (the journal chain) hold each domain's rows apart
  by (stream_name, domain_name). They are incremental tables that a build fills with its own domain's rows
  only: this pre-hook deletes them first, in the same transaction as the insert, so a build
  never rebuilds or touches another domain's rows, and two streams building at once on
  Postgres lock different rows. The first build of a model creates it (no rows to delete).
-#}
{% macro delete_domain_rows() -%}
    {%- if is_incremental() -%}
        delete from {{ this }}
        where {{ in_this_domain() }}
    {%- endif -%}
{%- endmacro %}

{#- The current domain's rows of a model the domains share. -#}
{% macro in_this_domain() -%}
    stream_name = {{ setting_literal('EHRFUSION_STREAM') }}
    and domain_name = {{ setting_literal('EHRFUSION_DOMAIN') }}
{%- endmacro %}

{#- Fresh planner statistics for a table a build just wrote: Postgres plans the chain's joins and
    its filtered reads from them, and a table written since autovacuum last ran looks nearly
    empty to it (a nested loop over thousands of rows). DuckDB keeps its own. -#}
{% macro analyze_this() %}
    {{ return(adapter.dispatch('analyze_this', 'ehrfusion')()) }}
{% endmacro %}

{% macro default__analyze_this() -%}
    analyze {{ this }}
{%- endmacro %}

{% macro duckdb__analyze_this() -%}
{%- endmacro %}
