-- TouchWorks providers, renamed. Workforce data, not patient PHI.

with

source as (

    select * from {{ source('veradigm_touchworks', 'tw_providers') }}

),

renamed as (

    select
        -- ids
        source.provider_id,
        source.npi,

        -- attributes
        source.first_name,
        source.last_name,
        source.specialty,
        source.department_code as department_id,
        source.active = 'Y' as is_active

    from source

)

select * from renamed
