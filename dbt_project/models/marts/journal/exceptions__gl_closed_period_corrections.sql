-- Finance review: restated entries whose correction touches a period that is no longer open
-- (Fusion posted them there, or their corrected date falls there). Nothing is dated into such a
-- period: the entry is reversed and re-posted dated on the restatement's day, or held when that
-- day is not in an open period either. Built before anything posts, so `ehrfusion plan` and the
-- finance page show it first. Journal ids stay (finance traces the entry in Epic); no patient
-- reference. Grain: one row per restated entry and batch.

with

lines as (

    select * from {{ ref('int_journal_lines_validated') }}
    where {{ in_this_domain() }} and correction_path = 'reverse_and_repost'

),

deltas as (

    select * from {{ ref('int_journal_line_deltas') }}
    where {{ in_this_domain() }} and line_kind in ('REVERSAL', 'REPOST')

),

entries as (

    select
        journal_id,
        batch_date,
        min(facility_id) as facility_id,
        min(accounting_date) as source_accounting_date,
        min(period_name) as source_period_name,
        min(correction_period_name) as correction_period_name,
        max(case when posted_in_closed_period then 1 else 0 end) as posted_in_closed_period,
        max(case when is_held then 1 else 0 end) as is_held,
        max(exception_reason) as exception_reason

    from lines
    group by journal_id, batch_date

),

movements as (

    select
        journal_id,
        count(*) as correction_lines,
        sum(case when line_kind = 'REVERSAL' then coalesce(entered_dr, 0) else 0 end)
            as reversed_debit,
        sum(case when line_kind = 'REVERSAL' then coalesce(entered_cr, 0) else 0 end)
            as reversed_credit,
        sum(case when line_kind = 'REPOST' then coalesce(entered_dr, 0) else 0 end)
            as reposted_debit,
        sum(case when line_kind = 'REPOST' then coalesce(entered_cr, 0) else 0 end)
            as reposted_credit

    from deltas
    group by journal_id

)

select
    {{ setting_literal('EHRFUSION_STREAM') }} as stream_name,
    {{ setting_literal('EHRFUSION_DOMAIN') }} as domain_name,
    entries.journal_id,
    entries.batch_date,
    entries.facility_id,
    entries.source_accounting_date,
    entries.source_period_name,
    entries.correction_period_name,
    case
        when entries.posted_in_closed_period = 1 then 'posted_in_closed_period'
        else 'dated_in_closed_period'
    end as review_reason,
    case
        when entries.is_held = 1 then 'held'
        else 'reverse_and_repost'
    end as treatment,
    entries.exception_reason,
    coalesce(movements.correction_lines, 0) as correction_lines,
    coalesce(movements.reversed_debit, 0) as reversed_debit,
    coalesce(movements.reversed_credit, 0) as reversed_credit,
    coalesce(movements.reposted_debit, 0) as reposted_debit,
    coalesce(movements.reposted_credit, 0) as reposted_credit

from entries

left join movements
    on entries.journal_id = movements.journal_id

where entries.is_held = 1 or movements.journal_id is not null
