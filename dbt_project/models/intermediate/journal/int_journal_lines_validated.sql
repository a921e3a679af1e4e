-- Every line gets at most one exception reason; a journal entry with any exception line, or
-- whose lines do not balance, is held whole. Held entries go to the exceptions mart, never
-- half to Fusion and never balanced by a plug or suspense line.
--
-- An entry belongs to the batch of its latest delivery (batch_date). When Fusion posted lines
-- of the entry in an earlier batch, a restatement changed it, and it takes a correction path
-- instead of the new-line period checks: corrected in place while every period involved is
-- open; otherwise reversed and re-posted dated on the restatement's day, which must then fall
-- in an open period (nothing is ever dated into a closed one). Voided lines want nothing
-- posted: they only take back what posted before.

with

mapped as (

    select * from {{ ref('int_journal_lines_mapped_to_coa') }}
    where {{ in_this_domain() }}

),

calendar as (

    {{ ledger_calendar_days() }}

),

posted as (

    select * from {{ ref('stg_ops__fusion_posted_lines') }}
    where {{ in_this_domain() }}

),

entry_batches as (

    select
        journal_id,
        max(delivered_on) as batch_date,
        -- a line mapped by CPT code without a cpt_gl_crosswalk row (it names the facility)
        max(
            case
                when cpt_crosswalk_system is not null and fusion_company is null then 1 else 0
            end
        ) as has_unmapped_cpt

    from mapped
    group by journal_id

),

-- Per entry: whether Fusion posted it at all, and what it posted in batches before the entry's
-- current one (a restatement since), with whether any of that sits in a period no longer open.
posted_entries as (

    select
        mapped.journal_id,
        max(case when posted.batch_date < entry_batches.batch_date then 1 else 0 end)
            as posted_before,
        max(
            case
                when
                    posted.batch_date < entry_batches.batch_date
                    and coalesce(calendar.closing_status, '-') <> 'O'
                    then 1
                else 0
            end
        ) as posted_in_closed_period

    from posted

    inner join mapped
        on posted.source_line_id = mapped.source_line_id

    inner join entry_batches
        on mapped.journal_id = entry_batches.journal_id

    left join calendar
        on posted.accounting_date = calendar.calendar_day

    group by mapped.journal_id

),

-- The entry-level facts, one row per entry: its batch, what posted of it before, and the
-- period the batch day falls in (where a reverse and re-post would be dated).
entries as (

    select
        entry_batches.journal_id,
        entry_batches.batch_date,
        entry_batches.has_unmapped_cpt,
        posted_entries.posted_before,
        coalesce(posted_entries.posted_before, 0) = 1 as is_posted_entry,
        coalesce(posted_entries.posted_in_closed_period, 0) = 1 as posted_in_closed_period,
        correction_calendar.period_name as correction_period_name,
        correction_calendar.closing_status as correction_period_status

    from entry_batches

    left join posted_entries
        on entry_batches.journal_id = posted_entries.journal_id

    left join calendar as correction_calendar
        on entry_batches.batch_date = correction_calendar.calendar_day

),

{#- One line's own exception, over `mapped` joined to `entries` (used twice below). -#}
{%- set line_exception -%}
        case
            when mapped.is_voided then null
            -- posted in its own batch and not restated since: settled, whatever changed in
            -- the crosswalk or the calendar afterwards
            when entries.posted_before = 0 then null
            when mapped.amount_status = 'missing' then 'missing_amount'
            when mapped.amount_status = 'non_numeric' then 'non_numeric_amount'
            -- each names the crosswalk to fix: a CPT-mapped line cpt_gl_crosswalk; a line
            -- whose facility only that missing row would name waits with its entry
            when mapped.fusion_company is null and mapped.cpt_crosswalk_system is not null
                then 'unmapped_cpt'
            when
                mapped.fusion_company is null and mapped.facility_id is null
                and entries.has_unmapped_cpt = 1
                then null
            when mapped.fusion_company is null then 'unmapped_coa'
            -- restated after posting: the correction paths below deal with the periods
            when entries.posted_before = 1 then null
            when mapped.period_name is null then 'no_gl_period'
            when mapped.period_status = 'C' then 'closed_period'
            when mapped.period_status <> 'O' then 'period_not_open'
        end
{%- endset %}

-- Per entry, from the few columns it needs (one narrow pass: the wide lines are joined once,
-- below, instead of carried through every step).
entry_checks as (

    select
        mapped.journal_id,
        sum(case when ({{ line_exception }}) is not null then 1 else 0 end) as exception_lines,
        coalesce(sum(case when not mapped.is_voided then mapped.debit_amount end), 0)
        - coalesce(sum(case when not mapped.is_voided then mapped.credit_amount end), 0)
            as entry_imbalance,
        max(
            case
                when not mapped.is_voided and coalesce(mapped.period_status, '-') <> 'O' then 1
                else 0
            end
        ) as dated_in_closed_period

    from mapped

    inner join entries
        on mapped.journal_id = entries.journal_id

    group by mapped.journal_id

),

paths as (

    select
        mapped.*,
        entries.batch_date,
        entries.is_posted_entry,
        entries.posted_in_closed_period,
        entries.correction_period_name,
        entries.correction_period_status,
        {{ line_exception }} as line_exception,
        entry_checks.exception_lines,
        entry_checks.entry_imbalance,
        case
            when not entries.is_posted_entry then 'new'
            when
                entries.posted_in_closed_period or entry_checks.dated_in_closed_period = 1
                then 'reverse_and_repost'
            else 'correct_in_place'
        end as correction_path

    from mapped

    inner join entries
        on mapped.journal_id = entries.journal_id

    inner join entry_checks
        on mapped.journal_id = entry_checks.journal_id

),

validated as (

    select
        *,
        (
            exception_lines > 0
            or entry_imbalance <> 0
            or (
                correction_path = 'reverse_and_repost'
                and coalesce(correction_period_status, '-') <> 'O'
            )
        ) as is_held,
        coalesce(
            line_exception,
            case
                when exception_lines > 0 then 'held_with_entry'
                when entry_imbalance <> 0 then 'entry_out_of_balance'
                when
                    correction_path = 'reverse_and_repost'
                    and coalesce(correction_period_status, '-') <> 'O'
                    then 'no_open_period_for_correction'
            end
        ) as exception_reason

    from paths

)

select * from validated
