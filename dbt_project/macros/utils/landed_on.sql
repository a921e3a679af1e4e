{#-
  The UTC day a raw row's version landed, from the dlt load id that landed it (Unix seconds as
  text): a database source's rows are batched for Fusion by the day they landed.
-#}
{% macro landed_on(load_id) -%}
    cast('1970-01-01' as date)
    + cast(floor(cast({{ load_id }} as {{ dbt.type_float() }}) / 86400) as integer)
{%- endmacro %}
