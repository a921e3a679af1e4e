-- Supplies consumed on Sunrise encounters, renamed. Consumptions deleted in Sunrise stay with
-- their last values, `is_deleted` set (`deleted_at`: when the delete landed).

with

source as (

    select * from {{ source('allscripts_sunrise', 'supply_consumption') }}

),

renamed as (

    select
        -- ids
        source.consumption_id,
        source.encounter_id,
        source.item_number,

        -- dimensions
        source.location_code as location_id,

        -- deletion: a row deleted in Sunrise stays as a tombstone with its last values
        coalesce(source._deleted, false) as is_deleted,
        case
            when source._deleted then to_timestamp(cast(source._dlt_load_id as double precision))
        end as deleted_at,

        -- amounts
        source.quantity,
        source.unit_cost,

        -- dates
        source.consumed_at,
        source.last_modified as last_modified_at

    from source

)

select * from renamed
