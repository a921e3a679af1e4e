-- Per feed day and currency: every source line is either exported to Fusion or held as an
-- exception, by count and to the cent. Feed files that could not be read are counted by the
-- run summary from the dead-letter store (their rows are unknown until the file is fixed).

with

source_lines as (

    select
        feed_date,
        currency_code,
        count(*) as source_lines,
        coalesce(sum(debit_amount), 0) as source_debit,
        coalesce(sum(credit_amount), 0) as source_credit,
        sum(case when amount_status <> 'ok' then 1 else 0 end) as unparsable_lines
    from {{ ref('stg_epic__resolute_journal_lines') }}
    group by feed_date, currency_code

),

exported as (

    select
        feed_date,
        currency_code,
        count(*) as exported_lines,
        coalesce(sum(entered_dr), 0) as exported_debit,
        coalesce(sum(entered_cr), 0) as exported_credit
    from {{ ref('fusion__gl_interface') }}
    group by feed_date, currency_code

),

exceptions as (

    select
        feed_date,
        currency_code,
        count(*) as exception_lines,
        coalesce(sum(debit_amount), 0) as exception_debit,
        coalesce(sum(credit_amount), 0) as exception_credit
    from {{ ref('exceptions__gl_journal_lines') }}
    group by feed_date, currency_code

),

reconciled as (

    select
        source_lines.feed_date,
        source_lines.currency_code,
        source_lines.source_lines,
        source_lines.unparsable_lines,
        source_lines.source_debit,
        source_lines.source_credit,
        coalesce(exported.exported_lines, 0) as exported_lines,
        coalesce(exported.exported_debit, 0) as exported_debit,
        coalesce(exported.exported_credit, 0) as exported_credit,
        coalesce(exceptions.exception_lines, 0) as exception_lines,
        coalesce(exceptions.exception_debit, 0) as exception_debit,
        coalesce(exceptions.exception_credit, 0) as exception_credit

    from source_lines

    left join exported
        on
            source_lines.feed_date = exported.feed_date
            and source_lines.currency_code = exported.currency_code

    left join exceptions
        on
            source_lines.feed_date = exceptions.feed_date
            and source_lines.currency_code = exceptions.currency_code

)

select
    *,
    case
        when
            source_lines = exported_lines + exception_lines
            and source_debit = exported_debit + exception_debit
            and source_credit = exported_credit + exception_credit
            then 'reconciled'
        else 'drift'
    end as status

from reconciled
