-- The clinicians a batch day sends to Fusion: sendable workers whose values (record_hash)
-- differ from the latest ones Fusion accepted for them in a batch of an earlier day, or that
-- Fusion never accepted. Acceptances of the batch day itself are ignored, so re-exporting a
-- day gives the same records.

with

workers as (

    select * from {{ ref('int_sunrise__clinician_workers') }}
    where unsendable_reason is null

),

records as (

    select * from {{ ref('stg_ops__fusion_records') }}

),

accepted_before as (

    select
        workers.record_key,
        records.record_hash,
        row_number() over (
            partition by workers.record_key
            order by records.batch_date desc, records.accepted_at desc, records.batch_id desc
        ) as recency

    from workers

    inner join records
        on
            workers.record_key = records.record_key
            and workers.batch_date > records.batch_date

),

latest_accepted as (

    select
        accepted_before.record_key,
        accepted_before.record_hash

    from accepted_before
    where accepted_before.recency = 1

),

changes as (

    select
        workers.*,
        latest_accepted.record_hash as accepted_record_hash

    from workers

    left join latest_accepted
        on workers.record_key = latest_accepted.record_key

    where
        latest_accepted.record_hash is null
        or latest_accepted.record_hash <> workers.record_hash

)

select * from changes
