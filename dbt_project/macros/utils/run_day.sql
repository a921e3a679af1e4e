{#- The UTC day of this dbt run: the batch day of record objects (inventory transactions, mass
    additions, workers), identical for every model of the run and on every engine. -#}
{% macro run_day() -%}
    cast('{{ run_started_at.strftime("%Y-%m-%d") }}' as date)
{%- endmacro %}
