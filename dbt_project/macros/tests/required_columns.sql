{#- Every row has a value in each of `columns`; returns one row per missing value, naming the
    column (a wide mart tests its required columns in one query instead of one per column). -#}
{% test required_columns(model, columns) %}
    {% for column in columns %}
        select '{{ column }}' as missing_column
        from {{ model }}
        where {{ column }} is null
        {% if not loop.last %}union all{% endif %}
    {% endfor %}
{% endtest %}
