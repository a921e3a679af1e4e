-- Sunrise supply consumptions held back from Fusion, with the reason (a location without an
-- inventory crosswalk row, a missing item number, quantity or date). Nothing is issued for
-- them until the source or the crosswalk is fixed.

with

consumptions as (

    select * from {{ ref('int_sunrise__supply_consumptions') }}
    where exception_reason is not null

)

select
    consumptions.batch_date,
    consumptions.consumption_id,
    consumptions.item_number,
    consumptions.location_id,
    consumptions.quantity,
    consumptions.consumed_on,
    consumptions.is_deleted,
    consumptions.exception_reason

from consumptions
