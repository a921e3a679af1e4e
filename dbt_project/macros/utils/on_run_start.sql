{#- Postgres computes pseudonyms with pgcrypto's hmac(); DuckDB needs nothing here. -#}
{% macro prepare_warehouse() %}
    {% if target.type == 'postgres' %}
        create extension if not exists pgcrypto;
    {% endif %}
{% endmacro %}
