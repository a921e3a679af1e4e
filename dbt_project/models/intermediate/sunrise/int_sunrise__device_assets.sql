-- Sunrise medical devices ready to become Fusion mass additions: the run's day (the Fusion
-- batch), the asset category and capitalization threshold of the device
-- (asset_category_crosswalk), the company and cost centre of its department on that day
-- (coa_crosswalk), its MASS_ADDITION_ID (the asset tag's digits), the hash of the values that
-- define the addition, and why it cannot be added (null when it can). Devices deleted in Sunrise
-- are kept (is_deleted): the additions model decides what that means against Fusion.

with

assets as (

    select * from {{ ref('stg_sunrise__device_assets') }}

),

categories as (

    select * from {{ ref('asset_category_crosswalk') }}

),

-- One company and cost centre per department and validity range (the crosswalk repeats them
-- per source account; facility-wide '*' rows carry balance-sheet accounts only).
cost_centres as (

    select distinct
        facility_id,
        department_id,
        company,
        cost_center,
        valid_from,
        coalesce(valid_to, cast('9999-12-31' as date)) as valid_to

    from {{ ref('coa_crosswalk') }}
    where department_id <> '*'

),

landed as (

    select
        assets.*,
        {{ run_day() }} as batch_date,
        length(assets.asset_tag) = 9
        and substr(assets.asset_tag, 1, 3) = 'AST'
        and translate(substr(assets.asset_tag, 4), '0123456789', '') = ''
        and substr(assets.asset_tag, 4) <> '000000' as is_numbered_tag

    from assets

),

joined as (

    select
        -- ids
        landed.asset_tag,
        landed.asset_tag as record_key,
        case
            when landed.is_numbered_tag then cast(substr(landed.asset_tag, 4) as bigint)
        end as mass_addition_id,
        landed.serial_number,
        landed.is_deleted,
        landed.deleted_at,

        -- dimensions
        landed.asset_description,
        landed.manufacturer,
        landed.facility_id,
        landed.department_id,
        categories.category_segment1,
        categories.category_segment2,
        cost_centres.company,
        cost_centres.cost_center,
        categories.deprn_expense_account,

        -- amounts
        landed.acquisition_cost,
        categories.capitalization_threshold,

        -- dates
        landed.acquired_on,
        landed.batch_date,

        -- checks
        case
            when not landed.is_numbered_tag then 'asset tag is not AST and six digits'
            when categories.asset_description is null then 'description not in asset category crosswalk'
            when landed.acquisition_cost is null then 'missing acquisition cost'
            when landed.acquired_on is null then 'missing acquisition date'
            when cost_centres.company is null then 'department not in chart of accounts crosswalk'
            when landed.acquisition_cost < categories.capitalization_threshold
                then 'below capitalization threshold'
        end as exception_reason

    from landed

    left join categories
        on landed.asset_description = categories.asset_description

    left join cost_centres
        on
            landed.facility_id = cost_centres.facility_id
            and landed.department_id = cost_centres.department_id
            and landed.batch_date between cost_centres.valid_from and cost_centres.valid_to

),

hashed as (

    select
        joined.*,
        md5(
            coalesce(joined.asset_description, '')
            || '|' || coalesce(cast(cast(joined.acquisition_cost as numeric(14, 2)) as {{ dbt.type_string() }}), '')
            || '|' || coalesce({{ format_yyyymmdd('joined.acquired_on') }}, '')
            || '|' || coalesce(joined.category_segment1, '')
            || '|' || coalesce(joined.category_segment2, '')
            || '|' || coalesce(joined.facility_id, '')
            || '|' || coalesce(joined.department_id, '')
        ) as record_hash

    from joined

)

select * from hashed
