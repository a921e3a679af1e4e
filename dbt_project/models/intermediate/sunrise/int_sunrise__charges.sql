-- Sunrise charges in the canonical charge shape (intermediate/_charges__contributions.yml),
-- which the journal chain turns into balanced entries (intermediate/charges): AR at the
-- facility, revenue at the charge's department and account, for the SFM-adjusted amount. A
-- credited charge is voided (what posted for it is taken back), and so is a charge deleted in
-- Sunrise (its tombstone): never posted, it sends nothing. The entry's batch is the day the
-- charge's latest version (or its delete) landed.

with

sunrise_charges as (

    select * from {{ ref('stg_sunrise__charge_detail') }}

),

encounters as (

    select * from {{ ref('stg_sunrise__encounters') }}
    where not is_deleted

),

charges as (

    select
        sunrise_charges.*,
        encounters.patient_reference,
        encounters.patient_pseudonym

    from sunrise_charges

    left join encounters
        on sunrise_charges.encounter_id = encounters.encounter_id

)

select
    'allscripts_sunrise' as data_source,
    cast(charges.charge_id as bigint) as charge_key,
    'SUN-' || cast(charges.charge_id as {{ dbt.type_string() }}) as journal_id,
    charges.patient_reference,
    charges.patient_pseudonym,
    'HB' as billing_system,
    charges.facility_id,
    charges.department_id,
    '1200' as receivable_account,
    charges.source_account as revenue_account,
    charges.revenue_code,
    cast(null as {{ dbt.type_string() }}) as cpt_code,
    cast(null as {{ dbt.type_string() }}) as cpt_crosswalk_system,
    'SUNRISE CHARGE' as line_description,
    coalesce(charges.revenue_code, charges.source_account) as revenue_description,
    charges.is_credit or charges.is_deleted as is_voided,
    cast(charges.amount as numeric(18, 2)) as amount,
    charges.post_date as feed_date,
    charges.landed_on as delivered_on,
    charges.post_date as accounting_date

from charges
