{#-
  A source total equals the sum of where it went, to the cent, on every row of a
  reconciliation model: e.g. source_debit = exported_debit + exception_debit.
  Returns the rows that drift, with the drift.
-#}
{% test reconciles(model, column_name, parts) %}
    select
        *,
        {{ column_name }} - ({{ parts | join(' + ') }}) as drift
    from {{ model }}
    where {{ column_name }} <> ({{ parts | join(' + ') }})
{% endtest %}
