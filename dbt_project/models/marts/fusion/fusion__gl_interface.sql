-- Journal lines ready for Fusion GL Journal Import, in GL_INTERFACE column names.
-- Only lines of entries with no exception are here; the load step places these columns at
-- their template position for the configured release (load/formats/<release>/GlInterface.yml).
-- One batch per feed day: REFERENCE1 (batch name), GROUP_ID and DATE_CREATED derive from it,
-- so the same feed day always produces the same file.
-- Patient, account and record references obey the domain's PHI mode (macros/phi/modes.sql);
-- accounting and feed dates are the ledger's business dates and stay in every mode.

with

postable as (

    select * from {{ ref('int_journal_lines_validated') }}
    where not is_held

),

gl_interface as (

    select
        'NEW' as status,
        cast({{ env_var('EHRFUSION_LEDGER_ID') }} as bigint) as ledger_id,
        accounting_date,
        {{ setting_literal('EHRFUSION_JOURNAL_SOURCE') }} as user_je_source_name,
        {{ setting_literal('EHRFUSION_JOURNAL_CATEGORY') }} as user_je_category_name,
        currency_code,
        feed_date as date_created,
        'A' as actual_flag,
        fusion_company as segment1,
        fusion_cost_center as segment2,
        fusion_account as segment3,
        fusion_sub_account as segment4,
        fusion_intercompany as segment5,
        fusion_future as segment6,
        debit_amount as entered_dr,
        credit_amount as entered_cr,
        'EPIC RESOLUTE ' || {{ format_yyyymmdd('feed_date') }} as reference1,
        'Epic Resolute HB/PB journal feed of ' || {{ format_yyyymmdd('feed_date') }} as reference2,
        {{ record_reference('journal_id') }} as reference4,
        billing_system || ' ' || transaction_type as reference5,
        line_description as reference10,
        {{ patient_reference('hospital_account_reference') }} as reference21,
        {{ patient_reference('patient_reference') }} as reference22,
        {{ record_reference('cast(source_line_id as ' ~ dbt.type_string() ~ ')') }} as reference23,
        {{ key_version_reference() }} as reference24,
        cast({{ format_yyyymmdd('feed_date') }} as bigint) as group_id,
        ledger_name,
        period_name,
        feed_date,
        source_line_id

    from postable

)

select * from gl_interface
