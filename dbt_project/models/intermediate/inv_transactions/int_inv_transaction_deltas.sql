-- What each sendable consumption still changes in Fusion's stock: the current quantity minus
-- everything Fusion accepted for it in this domain (a rejected transaction is not accepted, so
-- the next run sends it again). Zero means Fusion already holds it; the Fusion mart sends the
-- others. A consumption deleted at the source has quantity 0: what Fusion accepted comes back.

with

consumptions as (

    select * from {{ ref('int_inv_transactions_mapped') }}
    where {{ in_this_domain() }} and exception_reason is null

),

records as (

    select * from {{ ref('stg_ops__fusion_records') }}
    where {{ in_this_domain() }}

),

sent_before as (

    select
        consumptions.record_key,
        sum(records.measure) as sent_quantity,
        count(*) as sent_transactions

    from consumptions

    inner join records
        on consumptions.record_key = records.record_key

    group by consumptions.record_key

),

deltas as (

    select
        consumptions.*,
        cast(coalesce(sent_before.sent_quantity, 0) as numeric(18, 4)) as sent_quantity,
        cast(consumptions.quantity - coalesce(sent_before.sent_quantity, 0) as numeric(18, 4))
            as delta_quantity,
        -- the consumption's transactions in Fusion are numbered 1, 2, ... (SOURCE_HEADER_ID)
        coalesce(sent_before.sent_transactions, 0) + 1 as transaction_number

    from consumptions

    left join sent_before
        on consumptions.record_key = sent_before.record_key

)

select * from deltas
