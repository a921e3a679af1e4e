with

source as (

    select * from {{ source('epic_resolute', 'resolute_journal_lines') }}

),

renamed as (

    select
        -- ids
        journal_line_id as source_line_id,
        journal_id,
        tx_id as source_transaction_id,
        {{ pseudonymize('hsp_account_id', 'hospital_account') }} as hospital_account_pseudonym,
        {{ pseudonymize('pat_mrn_id', 'mrn') }} as patient_pseudonym,

        -- dimensions
        billing_system,
        tx_type as transaction_type,
        facility_id,
        department_id,
        gl_account as source_account,
        revenue_code,
        currency_code,
        line_description,
        _source_file as source_file,

        -- amounts
        debit_amount as debit_amount_text,
        credit_amount as credit_amount_text,
        {{ parse_amount('debit_amount') }} as debit_amount,
        {{ parse_amount('credit_amount') }} as credit_amount,
        {{ amount_status('debit_amount', 'credit_amount') }} as amount_status,

        -- dates
        post_date as feed_date,
        gl_date as accounting_date

    from source

)

select * from renamed
