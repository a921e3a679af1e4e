{#-
  No value in the model's outbound text columns equals a raw identifier from the source
  (MRN, hospital account, name). Failures report the row key and the column, never the
  value, so stored failures do not copy PHI.
-#}
{% test no_raw_identifiers(model, key_column, columns, identifiers, identifier_columns) %}
    with raw_identifiers as (
        {% for identifier in identifier_columns %}
            select cast({{ identifier }} as {{ dbt.type_string() }}) as identifier_value
            from {{ identifiers }}
            where {{ identifier }} is not null
            {% if not loop.last %}union{% endif %}
        {% endfor %}
    )

    {% for column in columns %}
        select
            outbound.{{ key_column }} as row_key,
            '{{ column }}' as column_name
        from {{ model }} as outbound
        inner join raw_identifiers
            on cast(outbound.{{ column }} as {{ dbt.type_string() }}) = raw_identifiers.identifier_value
        {% if not loop.last %}union all{% endif %}
    {% endfor %}
{% endtest %}
