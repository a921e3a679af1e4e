-- TouchWorks charges in the canonical charge shape (intermediate/_charges__contributions.yml),
-- which the journal chain turns into balanced entries (intermediate/charges): revenue by CPT code
-- (cpt_gl_crosswalk) at the charge's facility, the location the crosswalk is keyed by. A voided
-- charge (status V) is voided. The entry is dated on the charge's post date, and its batch is
-- the day the charge's latest version landed.

with

charges as (

    select * from {{ ref('stg_touchworks__charges') }}

)

select
    'veradigm_touchworks' as data_source,
    cast(charges.charge_id as bigint) as charge_key,
    'TW-' || cast(charges.charge_id as {{ dbt.type_string() }}) as journal_id,
    charges.patient_reference,
    charges.patient_pseudonym,
    'PB' as billing_system,
    charges.facility_id,
    charges.facility_id as department_id,
    '1200' as receivable_account,
    charges.cpt_code as revenue_account,
    cast(null as {{ dbt.type_string() }}) as revenue_code,
    charges.cpt_code,
    'touchworks' as cpt_crosswalk_system,
    'TOUCHWORKS CHARGE' as line_description,
    'CPT ' || coalesce(charges.cpt_code, '-') as revenue_description,
    charges.is_voided,
    cast(charges.amount as numeric(18, 2)) as amount,
    charges.post_date as feed_date,
    charges.landed_on as delivered_on,
    charges.post_date as accounting_date

from charges
