-- Sunrise charges as journal entries in the journal chain's line shape (contract in
-- intermediate/_journal__contributions.yml): one entry per charge, debit AR at the facility,
-- credit revenue at the charge's department and account, both for the SFM-adjusted amount. A
-- credited charge is voided (what posted for it is taken back), and so is a charge deleted in
-- Sunrise (its tombstone): never posted, it sends nothing. The entry's batch is the day the
-- charge's latest version (or its delete) landed.

with

charges as (

    select * from {{ ref('stg_sunrise__charge_detail') }}

),

encounters as (

    select * from {{ ref('stg_sunrise__encounters') }}
    where not is_deleted

),

entries as (

    select
        charges.*,
        encounters.patient_reference,
        encounters.patient_pseudonym

    from charges

    left join encounters
        on charges.encounter_id = encounters.encounter_id

),

-- Side 0 debits the facility's patient receivables (the EHR's AR account 1200, mapped by the
-- crosswalk's facility-wide row); side 1 credits the charge's own revenue account.
sides as (

    select
        0 as side,
        '1200' as fixed_account
    union all
    select
        1 as side,
        cast(null as {{ dbt.type_string() }}) as fixed_account

),

lines as (

    select
        'allscripts_sunrise' as data_source,
        cast(entries.charge_id * 2 + sides.side as bigint) as source_line_id,
        'SUN-' || cast(entries.charge_id as {{ dbt.type_string() }}) as journal_id,
        cast(entries.charge_id as bigint) as source_transaction_id,
        cast(null as {{ dbt.type_string() }}) as hospital_account_reference,
        entries.patient_reference,
        entries.patient_pseudonym,
        'HB' as billing_system,
        'CHARGE' as transaction_type,
        entries.facility_id,
        entries.department_id,
        coalesce(sides.fixed_account, entries.source_account) as source_account,
        entries.revenue_code,
        cast(null as {{ dbt.type_string() }}) as cpt_code,
        cast(null as {{ dbt.type_string() }}) as cpt_crosswalk_system,
        'USD' as currency_code,
        case
            when sides.side = 0 then 'SUNRISE CHARGE AR'
            else 'SUNRISE CHARGE REV ' || coalesce(entries.revenue_code, entries.source_account)
        end as line_description,
        case when entries.is_credit or entries.is_deleted then 'VOIDED' else 'ACTIVE' end
            as record_status,
        entries.is_credit or entries.is_deleted as is_voided,
        cast(null as {{ dbt.type_string() }}) as source_file,
        cast(null as {{ dbt.type_string() }}) as debit_amount_text,
        cast(null as {{ dbt.type_string() }}) as credit_amount_text,
        cast(case when sides.side = 0 then entries.amount end as numeric(18, 2)) as debit_amount,
        cast(case when sides.side = 1 then entries.amount end as numeric(18, 2))
            as credit_amount,
        case when entries.amount is null then 'missing' else 'ok' end as amount_status,
        entries.post_date as feed_date,
        entries.landed_on as delivered_on,
        entries.post_date as accounting_date

    from entries

    cross join sides

)

select * from lines
