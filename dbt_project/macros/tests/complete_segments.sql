{#- Every row carries a value in each listed account segment; returns the incomplete rows. -#}
{% test complete_segments(model, key_column, segment_columns) %}
    select
        {{ key_column }},
        {% for segment in segment_columns -%}
            case when coalesce(trim({{ segment }}), '') = '' then '{{ segment }} ' else '' end
            {%- if not loop.last %} || {% endif %}
        {% endfor %} as missing_segments
    from {{ model }}
    where
        {% for segment in segment_columns -%}
            coalesce(trim({{ segment }}), '') = ''
            {%- if not loop.last %} or {% endif %}
        {% endfor %}
{% endtest %}
