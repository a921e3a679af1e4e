-- Sunrise medical devices in the mass additions' canonical shape (contract in
-- intermediate/_mass_additions__contributions.yml): the asset and where it stands (its
-- distribution), one row per asset tag, deleted ones included. MASS_ADDITION_ID is the six
-- digits of an 'AST' asset tag; a tag without them is held back by the source's own reason.
-- Categories, cost centres, checks, outcomes against what Fusion accepted and the marts are the
-- shared mass addition models.

with

assets as (

    select * from {{ ref('stg_sunrise__device_assets') }}

),

tagged as (

    select
        assets.*,
        length(assets.asset_tag) = 9
        and substr(assets.asset_tag, 1, 3) = 'AST'
        and translate(substr(assets.asset_tag, 4), '0123456789', '') = ''
        and substr(assets.asset_tag, 4) <> '000000' as is_numbered_tag

    from assets

),

contributed as (

    select
        'allscripts_sunrise' as data_source,

        -- ids
        cast(tagged.asset_tag as {{ dbt.type_string() }}) as record_key,
        cast(tagged.asset_tag as {{ dbt.type_string() }}) as asset_tag,
        case
            when tagged.is_numbered_tag then cast(substr(tagged.asset_tag, 4) as bigint)
        end as mass_addition_id,
        cast(tagged.serial_number as {{ dbt.type_string() }}) as serial_number,

        -- asset
        cast(tagged.asset_description as {{ dbt.type_string() }}) as asset_description,
        cast(tagged.manufacturer as {{ dbt.type_string() }}) as manufacturer,
        cast(tagged.acquisition_cost as numeric(18, 2)) as acquisition_cost,
        cast(tagged.acquired_on as date) as acquired_on,
        1 as units,

        -- distribution: the whole device at its facility and department
        cast(tagged.facility_id as {{ dbt.type_string() }}) as facility_id,
        cast(tagged.department_id as {{ dbt.type_string() }}) as department_id,

        -- state
        tagged.is_deleted,
        case
            when not tagged.is_numbered_tag then 'asset tag is not AST and six digits'
        end as source_exception_reason

    from tagged

)

select * from contributed
