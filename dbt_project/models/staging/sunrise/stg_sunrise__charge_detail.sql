-- Sunrise charges with the Sunrise Financial Manager overlay applied: where SFM adjusted a
-- charge, its adjusted amount (and GL account, where it re-coded the charge) win over the
-- charge's own, which stay beside them; an overlay deleted in Sunrise no longer applies.
-- `landed_on` is the day the latest of the two landed (an overlay's delete included). Charges
-- deleted in Sunrise stay with their last values, `is_deleted` set.

with

charges as (

    select * from {{ source('allscripts_sunrise', 'charge_detail') }}

),

-- the adjustments in force (an adjustment deleted in Sunrise no longer applies)
overlays as (

    select * from {{ ref('stg_sunrise__sfm_charge_overlay') }}
    where not is_deleted

),

-- when each charge's adjustment last landed, its delete included
overlay_landings as (

    select
        charge_id,
        landed_load_id

    from {{ ref('stg_sunrise__sfm_charge_overlay') }}

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
        coalesce(charges._deleted, false) as is_deleted,
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
        case
            when charges._deleted then to_timestamp(cast(charges._dlt_load_id as double precision))
        end as deleted_at,
        -- the day the charge's latest version (or its overlay's) landed: its Fusion batch
        {{
            landed_on(
                'greatest(charges._dlt_load_id, '
                ~ 'coalesce(overlay_landings.landed_load_id, charges._dlt_load_id))'
            )
        }} as landed_on

    from charges
    left join overlays
        on charges.charge_id = overlays.charge_id
    left join overlay_landings
        on charges.charge_id = overlay_landings.charge_id

)

select * from renamed
