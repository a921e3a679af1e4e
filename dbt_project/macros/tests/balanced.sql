{#-
  Debits equal credits to the cent within each group (e.g. per batch, ledger and currency).
  Returns the groups that do not balance, with both totals and the difference.
-#}
{% test balanced(model, group_by, debit_column, credit_column) %}
    select
        {{ group_by | join(', ') }},
        coalesce(sum({{ debit_column }}), 0) as total_debit,
        coalesce(sum({{ credit_column }}), 0) as total_credit,
        coalesce(sum({{ debit_column }}), 0) - coalesce(sum({{ credit_column }}), 0) as difference
    from {{ model }}
    group by {{ group_by | join(', ') }}
    having coalesce(sum({{ debit_column }}), 0) <> coalesce(sum({{ credit_column }}), 0)
{% endtest %}
