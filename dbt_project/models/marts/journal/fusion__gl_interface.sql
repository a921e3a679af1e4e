-- Journal lines ready for Fusion GL Journal Import, in GL_INTERFACE column names: the lines each
-- batch still needs posted (int_journal_line_deltas): new lines, and corrections, reversals and
-- re-posts of entries a restatement changed after Fusion posted them (REFERENCE25 names the
-- kind). Only entries without any exception are here; the load step places these columns at
-- their template position for the configured release (load/formats/<release>/GlInterface.yml).
-- One batch per delivery day: REFERENCE1 (batch name), GROUP_ID and DATE_CREATED derive from
-- it, so the same delivery against the same earlier postings always produces the same file.
-- Patient, account and record references obey the domain's PHI mode (macros/phi/modes.sql);
-- accounting and feed dates are the ledger's business dates and stay in every mode.

with

deltas as (

    select * from {{ ref('int_journal_line_deltas') }}
    where {{ in_this_domain() }}

),

lines as (

    select * from {{ ref('int_journal_lines_validated') }}
    where {{ in_this_domain() }}

),

calendar as (

    {{ ledger_calendar_days() }}

),

gl_interface as (

    select
        deltas.stream_name,
        deltas.domain_name,
        'NEW' as status,
        cast({{ env_var('EHRFUSION_LEDGER_ID') }} as bigint) as ledger_id,
        deltas.accounting_date,
        {{ setting_literal('EHRFUSION_JOURNAL_SOURCE') }} as user_je_source_name,
        {{ setting_literal('EHRFUSION_JOURNAL_CATEGORY') }} as user_je_category_name,
        deltas.currency_code,
        deltas.batch_date as date_created,
        'A' as actual_flag,
        deltas.segment1,
        deltas.segment2,
        deltas.segment3,
        deltas.segment4,
        deltas.segment5,
        deltas.segment6,
        deltas.entered_dr,
        deltas.entered_cr,
        '{{ env_var("EHRFUSION_BATCH_NAME", "") }}' || ' ' || {{ format_yyyymmdd('deltas.batch_date') }} as reference1,
        '{{ env_var("EHRFUSION_BATCH_DESCRIPTION", "") }}' || ' '
        || {{ format_yyyymmdd('deltas.batch_date') }} as reference2,
        {{ record_reference('deltas.journal_id') }} as reference4,
        lines.billing_system || ' ' || lines.transaction_type
        || case when lines.correction_path <> 'new' then ' CORRECTION' else '' end as reference5,
        lines.line_description as reference10,
        {{ patient_reference('lines.hospital_account_reference') }} as reference21,
        {{ patient_reference('lines.patient_reference') }} as reference22,
        {{ record_reference('cast(deltas.source_line_id as ' ~ dbt.type_string() ~ ')') }}
            as reference23,
        {{ key_version_reference() }} as reference24,
        deltas.line_kind as reference25,
        cast({{ format_yyyymmdd('deltas.batch_date') }} as bigint) as group_id,
        calendar.ledger_name,
        calendar.period_name,
        deltas.batch_date,
        deltas.source_line_id,
        deltas.line_kind

    from deltas

    inner join lines
        on deltas.source_line_id = lines.source_line_id

    left join calendar
        on deltas.accounting_date = calendar.calendar_day

)

-- Stored in batch order: the export reads one batch day at a time, and on DuckDB a table
-- clustered by batch_date lets each day's read skip the row groups of the other days.
select * from gl_interface
order by batch_date
