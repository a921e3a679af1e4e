-- Sunrise medical devices, renamed. Devices deleted in Sunrise stay with their last values,
-- `is_deleted` set (`deleted_at`: when the delete landed).

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

        -- deletion: a row deleted in Sunrise stays as a tombstone with its last values
        coalesce(source._deleted, false) as is_deleted,
        case
            when source._deleted then to_timestamp(cast(source._dlt_load_id as double precision))
        end as deleted_at,

        -- amounts
        source.acquisition_cost,

        -- dates
        source.acquisition_date as acquired_on,
        source.last_modified as last_modified_at

    from source

)

select * from renamed
