-- Supplies consumed on Sunrise encounters, renamed.

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

        -- amounts
        source.quantity,
        source.unit_cost,

        -- dates
        source.consumed_at,
        source.last_modified as last_modified_at

    from source

)

select * from renamed
