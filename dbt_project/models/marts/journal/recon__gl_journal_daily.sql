-- Per batch (delivery day) and currency, every current source line is accounted for to the
-- cent: what Fusion posted for it in earlier batches plus what this batch exports for it, or
-- held as an exception (voided lines count for nothing: what posted for them is taken back).
-- New lines also reconcile by count. Feed files that could not be read are counted by the run
-- summary from the dead-letter store (their rows are unknown until the file is fixed).

with

lines as (

    select
        *,
        case when is_voided then 0 else coalesce(debit_amount, 0) end as current_debit,
        case when is_voided then 0 else coalesce(credit_amount, 0) end as current_credit,
        correction_path = 'new' and not is_voided as is_new_line

    from {{ ref('int_journal_lines_validated') }}
    where {{ in_this_domain() }}

),

posted as (

    select * from {{ ref('stg_ops__fusion_posted_lines') }}
    where {{ in_this_domain() }}

),

source_lines as (

    select
        batch_date,
        currency_code,
        count(*) as source_lines,
        sum(case when is_new_line then 1 else 0 end) as new_lines,
        sum(current_debit) as source_debit,
        sum(current_credit) as source_credit,
        sum(case when amount_status <> 'ok' then 1 else 0 end) as unparsable_lines,
        sum(case when is_held then 1 else 0 end) as exception_lines,
        sum(case when is_held and is_new_line then 1 else 0 end) as new_exception_lines,
        sum(case when is_held then current_debit else 0 end) as exception_debit,
        sum(case when is_held then current_credit else 0 end) as exception_credit

    from lines
    group by batch_date, currency_code

),

posted_before as (

    select
        lines.batch_date,
        lines.currency_code,
        coalesce(sum(posted.entered_dr), 0) as posted_debit,
        coalesce(sum(posted.entered_cr), 0) as posted_credit

    from posted

    inner join lines
        on posted.source_line_id = lines.source_line_id

    where posted.batch_date < lines.batch_date and not lines.is_held
    group by lines.batch_date, lines.currency_code

),

exported as (

    select
        batch_date,
        currency_code,
        count(distinct source_line_id) as exported_lines,
        sum(case when line_kind = 'NEW' then 1 else 0 end) as new_exported_lines,
        coalesce(sum(entered_dr), 0) as exported_debit,
        coalesce(sum(entered_cr), 0) as exported_credit

    from {{ ref('fusion__gl_interface') }}
    where {{ in_this_domain() }}
    group by batch_date, currency_code

),

reconciled as (

    select
        source_lines.*,
        coalesce(posted_before.posted_debit, 0) as posted_debit,
        coalesce(posted_before.posted_credit, 0) as posted_credit,
        coalesce(exported.exported_lines, 0) as exported_lines,
        coalesce(exported.new_exported_lines, 0) as new_exported_lines,
        coalesce(exported.exported_debit, 0) as exported_debit,
        coalesce(exported.exported_credit, 0) as exported_credit

    from source_lines

    left join posted_before
        on
            source_lines.batch_date = posted_before.batch_date
            and source_lines.currency_code = posted_before.currency_code

    left join exported
        on
            source_lines.batch_date = exported.batch_date
            and source_lines.currency_code = exported.currency_code

)

select
    {{ setting_literal('EHRFUSION_STREAM') }} as stream_name,
    {{ setting_literal('EHRFUSION_DOMAIN') }} as domain_name,
    *,
    case
        when
            new_lines = new_exported_lines + new_exception_lines
            and source_debit = posted_debit + exported_debit + exception_debit
            and source_credit = posted_credit + exported_credit + exception_credit
            then 'reconciled'
        else 'drift'
    end as status

from reconciled
