-- Sunrise charges with the Sunrise Financial Manager overlay applied: where SFM adjusted a
-- charge, its adjusted amount (and GL account, where it re-coded the charge) win over the
-- charge's own, which stay beside them. `landed_on` is the day the latest of the two landed.

with

charges as (

    select * from {{ source('allscripts_sunrise', 'charge_detail') }}

),

overlays as (

    select * from {{ ref('stg_sunrise__sfm_charge_overlay') }}

),

renamed as (

    select
        -- ids
        charges.charge_id,
        charges.encounter_id,

        -- dimensions
        charges.facility_code as facility_id,
        charges.department_code as department_id,
        coalesce(overlays.adjusted_source_account, charges.gl_account) as source_account,
        charges.gl_account as charged_source_account,
        charges.revenue_code,
        charges.charge_status,
        charges.charge_status = 'C' as is_credit,
        overlays.charge_id is not null as is_sfm_adjusted,
        overlays.overlay_reason,

        -- amounts
        charges.quantity,
        coalesce(overlays.adjusted_amount, charges.amount) as amount,
        charges.amount as charged_amount,

        -- dates
        charges.service_date,
        charges.post_date,
        charges.last_modified as last_modified_at,
        -- the day the charge's latest version (or its overlay's) landed: its Fusion batch
        {{ landed_on('greatest(charges._dlt_load_id, coalesce(overlays.landed_load_id, charges._dlt_load_id))') }}
            as landed_on

    from charges
    left join overlays
        on charges.charge_id = overlays.charge_id

)

select * from renamed
