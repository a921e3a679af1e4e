-- The workers this run of the domain sends to Fusion: sendable workers whose values
-- (record_hash) differ from the latest ones Fusion accepted for them in this domain, or that
-- Fusion never accepted (a rejected worker is sent again). A worker deleted at the source is
-- never sent: terminating a worker is HR's decision (the review list names them). The values
-- include the assignment status as of the run's day, so a licence that lapses without any
-- change at the source still suspends the assignment.

with

workers as (

    select * from {{ ref('int_workers_mapped') }}
    where
        {{ in_this_domain() }}
        and unsendable_reason is null
        and not coalesce(is_deleted, false)

),

records as (

    select * from {{ ref('stg_ops__fusion_records') }}
    where {{ in_this_domain() }}

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
        on workers.record_key = records.record_key

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
