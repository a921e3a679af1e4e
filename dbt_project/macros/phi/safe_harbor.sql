{#-
  Building blocks for the HIPAA de-identification modes (45 CFR 164.514(b)(2)).
  Portable SQL only, so they run unchanged on DuckDB and Postgres.
-#}

{#- Safe harbor keeps only the year of dates related to an individual. -#}
{% macro safe_harbor_year(column) -%}
    cast(extract(year from {{ column }}) as integer)
{%- endmacro %}

{#- Ages over 89 are aggregated into one category. -#}
{% macro safe_harbor_age(column) -%}
    case
        when {{ column }} is null then null
        when {{ column }} > 89 then '90+'
        else cast({{ column }} as {{ dbt.type_string() }})
    end
{%- endmacro %}

{#-
  The first three digits of a ZIP code, or '000' where that three-digit area holds 20,000
  people or fewer (the list is the versioned seed named by `restricted_zip3`).
-#}
{% macro safe_harbor_zip3(column, restricted_zip3) -%}
    case
        when {{ column }} is null or length(trim({{ column }})) < 3 then null
        when substr(trim({{ column }}), 1, 3) in (select zip3 from {{ restricted_zip3 }}) then '000'
        else substr(trim({{ column }}), 1, 3)
    end
{%- endmacro %}

{#- Limited data sets and safe harbor drop direct identifiers: the column stays, its value goes. -#}
{% macro redact(column) -%}
    cast(null as {{ dbt.type_string() }})
{%- endmacro %}
