-- Sunrise Financial Manager adjustments of charges, renamed. Adjustments deleted in Sunrise
-- stay with their last values, `is_deleted` set: the charge's own values apply again, and the
-- delete's landing moves the charge to that day's batch.

with

source as (

    select * from {{ source('allscripts_sunrise', 'sfm_charge_overlay') }}

),

renamed as (

    select
        -- ids
        source.charge_id,

        -- dimensions
        source.adjusted_gl_account as adjusted_source_account,
        source.overlay_reason,

        -- deletion: a row deleted in Sunrise stays as a tombstone with its last values
        coalesce(source._deleted, false) as is_deleted,
        case
            when source._deleted then to_timestamp(cast(source._dlt_load_id as double precision))
        end as deleted_at,

        -- amounts
        source.adjusted_amount,

        -- dates
        source.last_modified as last_modified_at,
        source._dlt_load_id as landed_load_id

    from source

)

select * from renamed
