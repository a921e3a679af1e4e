-- Sunrise clinicians with licence, credentialing and start date, renamed. Workforce data, not
-- patient PHI: kept as it is, and never written to a log. `landed_on` is the day the
-- clinician's latest version landed. Clinicians deleted in Sunrise stay with their last values,
-- `is_deleted` set (`deleted_at`: when the delete landed).

with

source as (

    select * from {{ source('allscripts_sunrise', 'clinicians') }}

),

renamed as (

    select
        -- ids
        source.clinician_id,
        source.npi,
        source.license_number,

        -- attributes
        source.first_name,
        source.last_name,
        source.email,
        source.license_state,
        source.credentialing_status,
        source.department_code as department_id,

        -- deletion: a row deleted in Sunrise stays as a tombstone with its last values
        coalesce(source._deleted, false) as is_deleted,
        case
            when source._deleted then to_timestamp(cast(source._dlt_load_id as double precision))
        end as deleted_at,

        -- dates
        source.start_date as started_on,
        source.license_expiry as license_expires_on,
        source.last_modified as last_modified_at,
        {{ landed_on('source._dlt_load_id') }} as landed_on

    from source

)

select * from renamed
