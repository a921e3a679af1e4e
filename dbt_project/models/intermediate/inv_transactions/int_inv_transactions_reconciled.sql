-- Per batch of the domain: every consumption is sent (its delta), already held by Fusion (no
-- delta) or held back as an exception; the current quantity of the sendable ones is what Fusion
-- accepted in earlier batches plus what this batch sends.

with

consumptions as (

    select * from {{ ref('int_inv_transactions_mapped') }}
    where {{ in_this_domain() }}

),

deltas as (

    select * from {{ ref('int_inv_transaction_deltas') }}
    where {{ in_this_domain() }}

),

source_counts as (

    select
        stream_name,
        domain_name,
        batch_date,
        count(*) as source_consumptions,
        count(case when exception_reason is not null then 1 end) as exception_consumptions

    from consumptions

    group by stream_name, domain_name, batch_date

),

delta_counts as (

    select
        batch_date,
        count(case when delta_quantity <> 0 then 1 end) as sent_consumptions,
        count(case when delta_quantity = 0 then 1 end) as unchanged_consumptions,
        sum(quantity) as current_quantity,
        sum(sent_quantity) as sent_before_quantity,
        sum(delta_quantity) as delta_quantity

    from deltas

    group by batch_date

)

select
    source_counts.stream_name,
    source_counts.domain_name,
    source_counts.batch_date,
    source_counts.source_consumptions,
    source_counts.exception_consumptions,
    coalesce(delta_counts.sent_consumptions, 0) as sent_consumptions,
    coalesce(delta_counts.unchanged_consumptions, 0) as unchanged_consumptions,
    cast(coalesce(delta_counts.current_quantity, 0) as numeric(18, 4)) as current_quantity,
    coalesce(delta_counts.sent_before_quantity, 0) as sent_before_quantity,
    coalesce(delta_counts.delta_quantity, 0) as delta_quantity

from source_counts

left join delta_counts
    on source_counts.batch_date = delta_counts.batch_date
