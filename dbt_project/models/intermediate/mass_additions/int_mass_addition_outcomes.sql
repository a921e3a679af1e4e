-- What each of the domain's assets does in this run's batch, against the mass additions Fusion
-- accepted for the domain:
--   add        never accepted and nothing holds it back;
--   unchanged  accepted before with the same values: Fusion holds it;
--   exception  never accepted and held back (exception_reason), or accepted before and
--              changed since ('changed after addition': finance adjusts the asset in Fusion,
--              it is never sent again) or deleted at the source since ('deleted in Sunrise
--              after addition', the reason finance's list knows: retiring the asset is
--              finance's decision, never automatic);
--   deleted    deleted at the source before Fusion accepted it: nothing to send or review.

with

assets as (

    select * from {{ ref('int_mass_additions_mapped') }}
    where {{ in_this_domain() }}

),

records as (

    select * from {{ ref('stg_ops__fusion_records') }}
    where {{ in_this_domain() }}

),

accepted_before as (

    select
        assets.record_key,
        records.record_hash,
        row_number() over (
            partition by assets.record_key
            order by records.batch_date desc, records.accepted_at desc
        ) as recency

    from assets

    inner join records
        on assets.record_key = records.record_key

),

latest_accepted as (

    select
        record_key,
        record_hash as accepted_hash

    from accepted_before
    where recency = 1

),

outcomes as (

    select
        assets.*,
        latest_accepted.accepted_hash,
        case
            when latest_accepted.record_key is null and assets.is_deleted then 'deleted'
            when latest_accepted.record_key is null and assets.exception_reason is null then 'add'
            when latest_accepted.record_key is null then 'exception'
            when assets.is_deleted then 'exception'
            when latest_accepted.accepted_hash = assets.record_hash then 'unchanged'
            else 'exception'
        end as outcome,
        case
            when latest_accepted.record_key is null and assets.is_deleted then null
            when latest_accepted.record_key is null then assets.exception_reason
            when assets.is_deleted then 'deleted in Sunrise after addition'
            when latest_accepted.accepted_hash <> assets.record_hash then 'changed after addition'
        end as outcome_reason

    from assets

    left join latest_accepted
        on assets.record_key = latest_accepted.record_key

)

select * from outcomes
