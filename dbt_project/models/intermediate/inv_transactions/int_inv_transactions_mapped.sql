-- The domain's supply consumptions ready to become inventory transactions: the run's day (the
-- Fusion batch), the inventory organization, subinventory, unit and expense account of the
-- location, the hash of the values Fusion is sent, and why a consumption cannot go to Fusion
-- (null when it can). A consumption deleted at the source keeps its last values with quantity
-- 0: its delta then receives back whatever Fusion accepted for it.

with

consumptions as (

    select * from {{ ref('int_inv_transactions') }}
    where {{ in_this_domain() }}

),

locations as (

    select * from {{ ref('inventory_location_crosswalk') }}

),

joined as (

    select
        -- ids
        consumptions.data_source,
        consumptions.stream_name,
        consumptions.domain_name,
        consumptions.record_key,
        consumptions.source_line_id,
        consumptions.transaction_reference,
        nullif(trim(consumptions.item_number), '') as item_number,

        -- dimensions
        consumptions.location_id,
        locations.organization_name,
        locations.subinventory_code,
        locations.transaction_uom,
        locations.dst_segment1,
        locations.dst_segment2,
        locations.dst_segment3,
        locations.dst_segment4,
        locations.dst_segment5,
        locations.dst_segment6,

        -- amounts: what is consumed now (nothing once deleted at the source)
        case when consumptions.is_deleted then 0 else consumptions.quantity end as quantity,
        consumptions.quantity as consumed_quantity,

        -- dates
        consumptions.consumed_on,
        {{ run_day() }} as batch_date,

        -- deletion
        consumptions.is_deleted,

        -- checks: the source's own first
        coalesce(
            consumptions.source_exception_reason,
            case
                when locations.location_code is null then 'location not in inventory crosswalk'
                when nullif(trim(consumptions.item_number), '') is null then 'missing item number'
                when consumptions.quantity is null and not consumptions.is_deleted then 'missing quantity'
                when consumptions.consumed_on is null then 'missing consumption date'
            end
        ) as exception_reason

    from consumptions

    left join locations
        on consumptions.location_id = locations.location_code

),

hashed as (

    select
        joined.*,
        md5(
            coalesce(joined.item_number, '')
            || '|' || coalesce(joined.location_id, '')
            || '|' || coalesce(cast(cast(joined.quantity as numeric(18, 4)) as {{ dbt.type_string() }}), '')
            || '|' || coalesce({{ format_yyyymmdd('joined.consumed_on') }}, '')
        ) as record_hash

    from joined

)

select * from hashed
