{#- Text amounts as Clarity flat extracts deliver them: optional sign, digits, up to 2 decimals. -#}
{% macro is_decimal_text(column) %}
    {{ return(adapter.dispatch('is_decimal_text', 'ehrfusion')(column)) }}
{% endmacro %}

{% macro default__is_decimal_text(column) -%}
    trim({{ column }}) ~ '^-?[0-9]+([.][0-9]{1,2})?$'
{%- endmacro %}

{% macro duckdb__is_decimal_text(column) -%}
    regexp_full_match(trim({{ column }}), '^-?[0-9]+([.][0-9]{1,2})?$')
{%- endmacro %}

{#- The amount as numeric(18, 2), or null when the text is empty or not a number. -#}
{% macro parse_amount(column) -%}
    case when {{ ehrfusion.is_decimal_text(column) }} then cast(trim({{ column }}) as numeric(18, 2)) end
{%- endmacro %}

{#- 'missing' (no amount on either side), 'non_numeric' (a side that is not a number) or 'ok'. -#}
{% macro amount_status(debit_column, credit_column) -%}
    case
        when coalesce(trim({{ debit_column }}), '') = '' and coalesce(trim({{ credit_column }}), '') = ''
            then 'missing'
        when coalesce(trim({{ debit_column }}), '') <> '' and not {{ ehrfusion.is_decimal_text(debit_column) }}
            then 'non_numeric'
        when coalesce(trim({{ credit_column }}), '') <> '' and not {{ ehrfusion.is_decimal_text(credit_column) }}
            then 'non_numeric'
        else 'ok'
    end
{%- endmacro %}
