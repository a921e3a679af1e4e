with

source as (

    select * from {{ source('epic_resolute', 'resolute_journal_lines') }}

),

renamed as (

    select
        -- ids
        source.journal_line_id as source_line_id,
        source.journal_id,
        source.tx_id as source_transaction_id,
        {{ phi_identifier('source.hsp_account_id', 'hospital_account') }} as hospital_account_reference,
        {{ phi_identifier('source.pat_mrn_id', 'mrn') }} as patient_reference,
        -- The accounting of disclosures names patients by keyed pseudonym in every mode.
        {{ pseudonymize('source.pat_mrn_id', 'mrn') }} as patient_pseudonym,

        -- dimensions
        source.billing_system,
        source.tx_type as transaction_type,
        source.facility_id,
        source.department_id,
        source.gl_account as source_account,
        source.revenue_code,
        source.currency_code,
        source.line_description,
        source._source_file as source_file,

        -- amounts
        source.debit_amount as debit_amount_text,
        source.credit_amount as credit_amount_text,
        {{ parse_amount('source.debit_amount') }} as debit_amount,
        {{ parse_amount('source.credit_amount') }} as credit_amount,
        {{ amount_status('source.debit_amount', 'source.credit_amount') }} as amount_status,

        -- dates
        source.post_date as feed_date,
        source.gl_date as accounting_date

    from source

)

select * from renamed
