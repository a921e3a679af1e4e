{{ config(materialized='table') }}

-- Every line gets at most one exception reason; a journal entry with any exception line, or
-- whose lines do not balance, is held whole. Held entries go to the exceptions mart, never
-- half to Fusion and never balanced by a plug or suspense line.

with

mapped as (

    select * from {{ ref('int_journal_lines_mapped_to_coa') }}

),

line_checks as (

    select
        *,
        case
            when amount_status = 'missing' then 'missing_amount'
            when amount_status = 'non_numeric' then 'non_numeric_amount'
            when fusion_company is null then 'unmapped_coa'
            when period_name is null then 'no_gl_period'
            when period_status = 'C' then 'closed_period'
            when period_status <> 'O' then 'period_not_open'
        end as line_exception

    from mapped

),

entry_checks as (

    select
        journal_id,
        sum(case when line_exception is not null then 1 else 0 end) as exception_lines,
        coalesce(sum(debit_amount), 0) - coalesce(sum(credit_amount), 0) as entry_imbalance

    from line_checks
    group by journal_id

),

validated as (

    select
        line_checks.*,
        (entry_checks.exception_lines > 0 or entry_checks.entry_imbalance <> 0) as is_held,
        coalesce(
            line_checks.line_exception,
            case
                when entry_checks.exception_lines > 0 then 'held_with_entry'
                when entry_checks.entry_imbalance <> 0 then 'entry_out_of_balance'
            end
        ) as exception_reason

    from line_checks

    inner join entry_checks
        on line_checks.journal_id = entry_checks.journal_id

)

select * from validated
