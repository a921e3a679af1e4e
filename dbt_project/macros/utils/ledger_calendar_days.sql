{#-
  The configured ledger's GL calendar as one row per day of each period (calendar_day), with
  the period's columns. Lines find their period by equality on this day, a hash join, where a
  range join (`between start_date and end_date`) sorts every line by its date first: at a
  million lines that sort was most of the mapping's time. Periods are days to weeks long, so
  the expansion stays small; a period row with no dates expands to nothing, as `between`
  matched nothing.
-#}
{% macro ledger_calendar_days() -%}
    select
        cast(days.calendar_day as date) as calendar_day,
        calendar.*

    from {{ ref('gl_period_calendar') }} as calendar

    cross join lateral generate_series(
        cast(calendar.start_date as timestamp),
        cast(calendar.end_date as timestamp),
        interval '1 day'
    ) as days (calendar_day)

    where calendar.ledger_name = {{ setting_literal('EHRFUSION_LEDGER_NAME') }}
{%- endmacro %}
