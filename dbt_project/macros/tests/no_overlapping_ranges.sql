{#-
  Effective-dated reference data: for one key, validity ranges never overlap (an open
  valid_to runs forever). Returns the overlapping pairs.
-#}
{% test no_overlapping_ranges(model, key_columns, valid_from, valid_to) %}
    with ranges as (
        select
            {{ key_columns | join(', ') }},
            {{ valid_from }} as range_start,
            coalesce({{ valid_to }}, cast('9999-12-31' as date)) as range_end,
            row_number() over (order by {{ key_columns | join(', ') }}, {{ valid_from }}) as range_id
        from {{ model }}
    )

    select
        {% for key in key_columns %}earlier.{{ key }}, {% endfor %}
        earlier.range_start as earlier_start,
        earlier.range_end as earlier_end,
        later.range_start as later_start
    from ranges as earlier
    inner join ranges as later
        on
            {% for key in key_columns %}earlier.{{ key }} = later.{{ key }} and {% endfor %}
            earlier.range_id < later.range_id
            and later.range_start <= earlier.range_end
            and earlier.range_start <= later.range_end
{% endtest %}
