-- TouchWorks charges as journal entries in the journal chain's line shape (contract in
-- intermediate/_journal__contributions.yml): one entry per charge, debit the facility's patient
-- receivables, credit the revenue account the charge's CPT code maps to (cpt_gl_crosswalk),
-- both for the charge's amount. A voided charge (status V) is voided: what posted for it is
-- taken back. The location the crosswalk is keyed by is the charge's facility; the entry is
-- dated on the charge's post date, and its batch is the day the charge's latest version landed.

with

charges as (

    select * from {{ ref('stg_touchworks__charges') }}

),

-- Side 0 debits the patient receivables (the EHR's AR account 1200, mapped by the COA
-- crosswalk's facility-wide row); side 1 credits the CPT code's revenue account.
sides as (

    select 0 as side
    union all
    select 1 as side

),

lines as (

    select
        'veradigm_touchworks' as data_source,
        cast(charges.charge_id * 2 + sides.side as bigint) as source_line_id,
        'TW-' || cast(charges.charge_id as {{ dbt.type_string() }}) as journal_id,
        cast(charges.charge_id as bigint) as source_transaction_id,
        cast(null as {{ dbt.type_string() }}) as hospital_account_reference,
        charges.patient_reference,
        charges.patient_pseudonym,
        'PB' as billing_system,
        'CHARGE' as transaction_type,
        charges.facility_id,
        -- the location the CPT crosswalk is keyed by, where finance looks for a missing row
        charges.facility_id as department_id,
        case when sides.side = 0 then '1200' else charges.cpt_code end as source_account,
        cast(null as {{ dbt.type_string() }}) as revenue_code,
        charges.cpt_code,
        case when sides.side = 1 then 'touchworks' end as cpt_crosswalk_system,
        'USD' as currency_code,
        case
            when sides.side = 0 then 'TOUCHWORKS CHARGE AR'
            else 'TOUCHWORKS CHARGE REV CPT ' || coalesce(charges.cpt_code, '-')
        end as line_description,
        case when charges.is_voided then 'VOIDED' else 'ACTIVE' end as record_status,
        charges.is_voided,
        cast(null as {{ dbt.type_string() }}) as source_file,
        cast(null as {{ dbt.type_string() }}) as debit_amount_text,
        cast(null as {{ dbt.type_string() }}) as credit_amount_text,
        cast(case when sides.side = 0 then charges.amount end as numeric(18, 2)) as debit_amount,
        cast(case when sides.side = 1 then charges.amount end as numeric(18, 2))
            as credit_amount,
        case when charges.amount is null then 'missing' else 'ok' end as amount_status,
        charges.post_date as feed_date,
        charges.landed_on as delivered_on,
        charges.post_date as accounting_date

    from charges

    cross join sides

)

select * from lines
