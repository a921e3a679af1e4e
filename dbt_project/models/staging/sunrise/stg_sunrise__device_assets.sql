-- Sunrise medical devices, renamed.

with

source as (

    select * from {{ source('allscripts_sunrise', 'device_assets') }}

),

renamed as (

    select
        -- ids
        source.asset_tag,
        source.serial_number,

        -- dimensions
        source.description as asset_description,
        source.manufacturer,
        source.facility_code as facility_id,
        source.department_code as department_id,

        -- amounts
        source.acquisition_cost,

        -- dates
        source.acquisition_date as acquired_on,
        source.last_modified as last_modified_at

    from source

)

select * from renamed
