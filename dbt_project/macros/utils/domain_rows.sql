{#-
  The journal chain's tables are shared by every GL domain of a tenant and hold each domain's
  rows apart by (stream_name, domain_name). A build replaces only its own domain's rows: this
  materialization deletes them and inserts the model's rows in one transaction, straight from the
  model's query (no staging copy: at a million lines a second write of a wide table costs as
  much as computing it). Another domain's rows are never read, rebuilt or locked, so two streams
  building at once on Postgres write different rows of the same tables. The first build creates
  the table (the first build of a target runs under the tenant's exclusive reference lock). A
  model that gained columns since its table was created adds them, typed as the model types
  them, before inserting; a column the model no longer has stays, null in new rows.
-#}
{% materialization domain_rows, default %}
    {%- set target_relation = this.incorporate(type='table') -%}
    {%- set existing_relation = load_cached_relation(this) -%}

    {{ run_hooks(pre_hooks, inside_transaction=False) }}
    {{ run_hooks(pre_hooks, inside_transaction=True) }}

    {%- if existing_relation is none -%}
        {% call statement('main') -%}
            {{ get_create_table_as_sql(False, target_relation, sql) }}
        {%- endcall %}
    {%- else -%}
        {%- set columns = get_columns_in_query(sql) | map('lower') | list -%}
        {%- set present = adapter.get_columns_in_relation(existing_relation)
            | map(attribute='name') | map('lower') | list -%}
        {%- set rows_sql = sql -%}
        {%- if columns | reject('in', present) | list -%}
            {%- set staged = make_temp_relation(target_relation) -%}
            {% call statement('stage') -%}
                {{ get_create_table_as_sql(True, staged, sql) }}
            {%- endcall %}
            {%- set added = adapter.get_columns_in_relation(staged)
                | rejectattr('name', 'in', present) | list -%}
            {% do alter_relation_add_remove_columns(target_relation, added, none) %}
            {%- set rows_sql = 'select * from ' ~ staged -%}
        {%- endif -%}
        {% call statement('delete_domain_rows') -%}
            delete from {{ target_relation }} where {{ in_this_domain() }}
        {%- endcall %}
        {% call statement('main') -%}
            insert into {{ target_relation }} ({{ columns | join(', ') }})
            select {{ columns | join(', ') }} from ({{ rows_sql }}) as domain_rows
        {%- endcall %}
    {%- endif -%}

    {{ run_hooks(post_hooks, inside_transaction=True) }}
    {{ adapter.commit() }}
    {{ run_hooks(post_hooks, inside_transaction=False) }}

    {{ return({'relations': [target_relation]}) }}
{% endmaterialization %}

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
