-- The latest delivered version of every journal line: a restatement delivered later wins over
-- the daily file (and, on the same day, the restatement file over the daily one).

with

deliveries as (

    select
        *,
        row_number() over (
            partition by journal_line_id
            order by delivered_on desc, _source_file desc
        ) as delivery_rank

    from {{ source('epic_resolute', 'resolute_journal_lines') }}

),

source as (

    select * from deliveries
    where delivery_rank = 1

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
        source.record_status,
        source.record_status = 'VOIDED' as is_voided,
        source._source_file as source_file,

        -- amounts
        source.debit_amount as debit_amount_text,
        source.credit_amount as credit_amount_text,
        {{ parse_amount('source.debit_amount') }} as debit_amount,
        {{ parse_amount('source.credit_amount') }} as credit_amount,
        {{ amount_status('source.debit_amount', 'source.credit_amount') }} as amount_status,

        -- dates
        source.post_date as feed_date,
        source.delivered_on,
        source.gl_date as accounting_date

    from source

)

select * from renamed
