-- Charges of the Unity organisation as journal entries in the journal chain's line shape
-- (intermediate/_journal__contributions.yml): one entry per charge, debit the patient
-- receivables of the facility the organisation reports under, credit the revenue account the
-- charge's CPT code maps to (cpt_gl_crosswalk; a Unity endpoint serves one organisation, so its
-- rows carry location '*'), both for the charge's amount. A charge with status 'voided' is
-- voided: what posted for it is taken back. Unity has no posting date: the entry is dated on
-- the day the charge was last entered or changed (changed_at, UTC), and its batch is the day
-- that version landed. Charge ids are strings: the numeric line id is the first 60 bits of
-- md5(<charge id>), twice, plus the side (tested unique).

with

charges as (

    select
        *,
        {{ md5_bigint60("charge_id") }} as charge_key

    from {{ ref('stg_veradigm__unity_charges') }}

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
        'veradigm_unity' as data_source,
        cast(charges.charge_key * 2 + sides.side as bigint) as source_line_id,
        'UNITY-' || charges.charge_id as journal_id,
        cast(charges.charge_key as bigint) as source_transaction_id,
        cast(null as {{ dbt.type_string() }}) as hospital_account_reference,
        charges.patient_reference,
        charges.patient_pseudonym,
        'PB' as billing_system,
        'CHARGE' as transaction_type,
        cast(null as {{ dbt.type_string() }}) as facility_id,
        -- the location the CPT crosswalk is keyed by, where finance looks for a missing row
        '*' as department_id,
        case when sides.side = 0 then '1200' else charges.cpt_code end as source_account,
        cast(null as {{ dbt.type_string() }}) as revenue_code,
        charges.cpt_code,
        case when sides.side = 1 then 'unity' end as cpt_crosswalk_system,
        'USD' as currency_code,
        case
            when sides.side = 0 then 'UNITY CHARGE AR'
            else 'UNITY CHARGE REV CPT ' || coalesce(charges.cpt_code, '-')
        end as line_description,
        case when lower(charges.charge_status) = 'voided' then 'VOIDED' else 'ACTIVE' end
            as record_status,
        coalesce(lower(charges.charge_status) = 'voided', false) as is_voided,
        cast(null as {{ dbt.type_string() }}) as source_file,
        cast(null as {{ dbt.type_string() }}) as debit_amount_text,
        cast(null as {{ dbt.type_string() }}) as credit_amount_text,
        cast(case when sides.side = 0 then charges.amount end as numeric(18, 2)) as debit_amount,
        cast(case when sides.side = 1 then charges.amount end as numeric(18, 2))
            as credit_amount,
        case when charges.amount is null then 'missing' else 'ok' end as amount_status,
        cast(charges.changed_at as date) as feed_date,
        charges.landed_on as delivered_on,
        cast(charges.changed_at as date) as accounting_date

    from charges

    cross join sides

)

select * from lines
