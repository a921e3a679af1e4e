-- Journal lines held back from Fusion, with the reason: the operator's and finance's worklist.
-- Lines of a held entry that are fine themselves carry 'held_with_entry'.

select
    source_line_id,
    journal_id,
    feed_date,
    accounting_date,
    billing_system,
    transaction_type,
    facility_id,
    department_id,
    source_account,
    currency_code,
    debit_amount,
    credit_amount,
    debit_amount_text,
    credit_amount_text,
    exception_reason,
    period_name,
    period_status,
    patient_pseudonym

from {{ ref('int_journal_lines_validated') }}
where is_held
