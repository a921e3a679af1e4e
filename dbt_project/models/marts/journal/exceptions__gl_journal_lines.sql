-- Journal lines held back from Fusion, with the reason: the operator's and finance's worklist.
-- Lines of a held entry that are fine themselves carry 'held_with_entry'. The patient reference
-- obeys the domain's PHI mode like the Fusion mart's; journal ids stay (finance fixes entries).

select
    data_source,
    stream_name,
    domain_name,
    source_line_id,
    journal_id,
    feed_date,
    batch_date,
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
    {{ patient_reference('patient_reference') }} as patient_reference,
    {{ key_version_reference() }} as phi_key_version

from {{ ref('int_journal_lines_validated') }}
where {{ in_this_domain() }} and is_held
