-- Practice Fusion providers of every practice, renamed. Workforce data, not patient PHI.

with

source as (

    select * from {{ source('veradigm', 'pf_providers') }}

),

renamed as (

    select
        -- ids
        source.practice_id,
        source.provider_id,
        source.npi,

        -- attributes
        source.first_name,
        source.last_name,
        source.specialty,

        -- dates
        source.updated_at

    from source

)

select * from renamed
