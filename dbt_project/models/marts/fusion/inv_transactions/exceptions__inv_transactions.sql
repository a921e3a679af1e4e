-- The domain's supply consumptions held back from Fusion, with the reason (the source's own, a
-- location without an inventory crosswalk row, a missing item number, quantity or date).
-- Nothing is issued for them until the source or the crosswalk is fixed.

with

consumptions as (

    select * from {{ ref('int_inv_transactions_mapped') }}
    where {{ in_this_domain() }} and exception_reason is not null

)

select
    consumptions.stream_name,
    consumptions.domain_name,
    consumptions.batch_date,
    consumptions.record_key,
    consumptions.source_line_id,
    consumptions.item_number,
    consumptions.location_id,
    consumptions.quantity,
    consumptions.consumed_on,
    consumptions.is_deleted,
    consumptions.exception_reason

from consumptions
