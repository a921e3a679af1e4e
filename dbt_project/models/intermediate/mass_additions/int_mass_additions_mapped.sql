-- The domain's assets ready to become Fusion mass additions: the run's day (the Fusion batch),
-- the asset category, capitalization threshold and depreciation account of the asset
-- (asset_category_crosswalk), the company and cost centre of its department on that day
-- (coa_crosswalk), the hash of the values that define the addition, and why it cannot be added
-- (the source's own reason first; null when it can). Assets deleted at the source are kept
-- (is_deleted): the outcomes model decides what that means against Fusion.

with

assets as (

    select * from {{ ref('int_mass_additions') }}
    where {{ in_this_domain() }}

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

dated as (

    select
        assets.*,
        {{ run_day() }} as batch_date

    from assets

),

joined as (

    select
        -- ids
        dated.data_source,
        dated.stream_name,
        dated.domain_name,
        dated.record_key,
        dated.asset_tag,
        dated.mass_addition_id,
        dated.serial_number,
        dated.is_deleted,

        -- dimensions
        dated.asset_description,
        dated.manufacturer,
        dated.facility_id,
        dated.department_id,
        categories.category_segment1,
        categories.category_segment2,
        cost_centres.company,
        cost_centres.cost_center,
        categories.deprn_expense_account,

        -- amounts
        dated.acquisition_cost,
        dated.units,
        categories.capitalization_threshold,

        -- dates
        dated.acquired_on,
        dated.batch_date,

        -- checks: the source's own first
        coalesce(
            dated.source_exception_reason,
            case
                when categories.asset_description is null then 'description not in asset category crosswalk'
                when dated.acquisition_cost is null then 'missing acquisition cost'
                when dated.acquired_on is null then 'missing acquisition date'
                when cost_centres.company is null then 'department not in chart of accounts crosswalk'
                when dated.acquisition_cost < categories.capitalization_threshold
                    then 'below capitalization threshold'
            end
        ) as exception_reason

    from dated

    left join categories
        on dated.asset_description = categories.asset_description

    left join cost_centres
        on
            dated.facility_id = cost_centres.facility_id
            and dated.department_id = cost_centres.department_id
            and dated.batch_date between cost_centres.valid_from and cost_centres.valid_to

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
