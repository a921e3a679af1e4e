{{ config(materialized='table') }}

-- What each sendable consumption still changes in Fusion's stock, in its batch: the current
-- quantity minus what Fusion accepted for it in earlier batches (a batch is compared only with
-- earlier ones, so exporting a day again gives the same rows). Zero means Fusion already
-- holds it; the Fusion mart sends the others.

with

consumptions as (

    select * from {{ ref('int_sunrise__supply_consumptions') }}
    where exception_reason is null

),

records as (

    select * from {{ ref('stg_ops__fusion_records') }}

),

sent_before as (

    select
        consumptions.record_key,
        sum(records.measure) as sent_quantity

    from consumptions

    inner join records
        on
            consumptions.record_key = records.record_key
            and consumptions.batch_date > records.batch_date

    group by consumptions.record_key

),

deltas as (

    select
        consumptions.*,
        cast(coalesce(sent_before.sent_quantity, 0) as numeric(18, 4)) as sent_quantity,
        cast(consumptions.quantity - coalesce(sent_before.sent_quantity, 0) as numeric(18, 4))
            as delta_quantity

    from consumptions

    left join sent_before
        on consumptions.record_key = sent_before.record_key

)

select * from deltas
