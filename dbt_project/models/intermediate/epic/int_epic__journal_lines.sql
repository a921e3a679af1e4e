-- Epic Resolute HB/PB journal lines in the journal chain's line shape (contract in
-- intermediate/_journal__contributions.yml): the feed already delivers balanced journal
-- lines, each mapped by the COA crosswalk on its facility, department and GL account. The
-- batch (delivered_on) is the delivery day of the line's latest version.

with

lines as (

    select * from {{ ref('stg_epic__resolute_journal_lines') }}

),

contributed as (

    select
        'epic_resolute_journal' as data_source,
        cast(lines.source_line_id as bigint) as source_line_id,
        lines.journal_id,
        cast(lines.source_transaction_id as bigint) as source_transaction_id,
        lines.hospital_account_reference,
        lines.patient_reference,
        lines.patient_pseudonym,
        lines.billing_system,
        lines.transaction_type,
        lines.facility_id,
        lines.department_id,
        lines.source_account,
        lines.revenue_code,
        cast(null as {{ dbt.type_string() }}) as cpt_code,
        cast(null as {{ dbt.type_string() }}) as cpt_crosswalk_system,
        lines.currency_code,
        lines.line_description,
        lines.record_status,
        lines.is_voided,
        lines.source_file,
        lines.debit_amount_text,
        lines.credit_amount_text,
        lines.debit_amount,
        lines.credit_amount,
        lines.amount_status,
        lines.feed_date,
        lines.delivered_on,
        lines.accounting_date

    from lines

)

select * from contributed
