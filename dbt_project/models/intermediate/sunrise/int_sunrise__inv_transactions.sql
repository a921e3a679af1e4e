-- Sunrise supply consumptions in the inventory transactions' canonical shape (contract in
-- intermediate/_inv_transactions__contributions.yml): one row per consumption, deleted ones
-- included with their last values. The crosswalk, the checks, the deltas against what Fusion
-- accepted and the marts are the shared inventory models. The encounter id stays behind: it
-- identifies a patient stay.

with

consumptions as (

    select * from {{ ref('stg_sunrise__supply_consumption') }}

),

contributed as (

    select
        'allscripts_sunrise' as data_source,

        -- ids
        cast(consumptions.consumption_id as {{ dbt.type_string() }}) as record_key,
        cast(consumptions.consumption_id as bigint) as source_line_id,
        'SC' || cast(consumptions.consumption_id as {{ dbt.type_string() }}) as transaction_reference,
        cast(consumptions.item_number as {{ dbt.type_string() }}) as item_number,

        -- dimensions
        cast(consumptions.location_id as {{ dbt.type_string() }}) as location_id,

        -- amounts
        cast(consumptions.quantity as numeric(18, 4)) as quantity,

        -- dates
        cast(consumptions.consumed_at as date) as consumed_on,

        -- state
        consumptions.is_deleted,
        cast(null as {{ dbt.type_string() }}) as source_exception_reason

    from consumptions

)

select * from contributed
