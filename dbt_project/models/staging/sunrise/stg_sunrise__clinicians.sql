-- Sunrise clinicians with licence and credentialing, renamed. Workforce data, not patient PHI:
-- kept as it is, and never written to a log.

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

        -- dates
        source.license_expiry as license_expires_on,
        source.last_modified as last_modified_at

    from source

)

select * from renamed
