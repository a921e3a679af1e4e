-- Sunrise Financial Manager adjustments of charges, renamed.

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

        -- amounts
        source.adjusted_amount,

        -- dates
        source.last_modified as last_modified_at,
        source._dlt_load_id as landed_load_id

    from source

)

select * from renamed
