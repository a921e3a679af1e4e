-- Capital assets for Fusion Fixed Assets mass additions (FaMassAdditions.csv), one batch per run
-- of the domain: each capitalizable asset Fusion has not accepted yet, once. Built only with its
-- batch reconciliation.
-- depends_on: {{ ref('int_mass_additions_reconciled') }}

with

additions as (

    select * from {{ ref('int_mass_addition_outcomes') }}
    where {{ in_this_domain() }} and outcome = 'add'

),

mass_additions as (

    select
        additions.stream_name,
        additions.domain_name,

        -- the record Fusion accepts
        additions.batch_date,
        additions.record_key,
        additions.record_hash,
        cast(null as numeric(18, 4)) as measure,

        -- FaMassAdditions.csv
        additions.mass_addition_id,
        {{ setting_literal('EHRFUSION_ASSET_BOOK') }} as book_type_code,
        additions.asset_description as description,
        additions.asset_tag as tag_number,
        additions.manufacturer as manufacturer_name,
        additions.serial_number,
        'CAPITALIZED' as asset_type,
        additions.acquisition_cost as fixed_assets_cost,
        additions.acquired_on as date_placed_in_service,
        additions.units as fixed_assets_units,
        additions.category_segment1,
        additions.category_segment2,
        'POST' as posting_status,
        'POST' as queue_name,
        {{ setting_literal('EHRFUSION_FEEDER_SYSTEM') }} as feeder_system_name

    from additions

)

select * from mass_additions
