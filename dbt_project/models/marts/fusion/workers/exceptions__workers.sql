-- HR's review list of the domain's workers, one row per worker and reason: licences expired
-- before the batch day (the assignment goes to Fusion suspended) or expiring within 90 days of
-- it, credentialing not ACTIVE, workers that cannot be sent to Fusion at all (the source's own
-- reason, no last name, no start date, a credentialing status the status seed does not map;
-- `is_held`), and workers deleted at the source that Fusion holds (never sent again; whether
-- to terminate the worker is HR's decision). Licence numbers stay here, out of the marts sent
-- to Fusion.

with

workers as (

    select * from {{ ref('int_workers_mapped') }}
    where {{ in_this_domain() }}

),

live_workers as (

    select * from workers
    where not is_deleted

),

held_by_fusion as (

    select distinct record_key
    from {{ ref('stg_ops__fusion_records') }}
    where {{ in_this_domain() }}

),

reasons as (

    select
        live_workers.record_key,
        live_workers.unsendable_reason as exception_reason
    from live_workers
    where live_workers.unsendable_reason is not null

    union all

    select
        live_workers.record_key,
        'license_expired' as exception_reason
    from live_workers
    where live_workers.is_license_expired

    union all

    select
        live_workers.record_key,
        'license_expiring' as exception_reason
    from live_workers
    where
        live_workers.license_expires_on >= live_workers.batch_date
        and live_workers.license_expires_on <= live_workers.batch_date + 90

    union all

    select
        live_workers.record_key,
        'credentialing_not_active' as exception_reason
    from live_workers
    where
        live_workers.is_status_mapped
        and live_workers.credentialing_status <> 'ACTIVE'

    union all

    -- deleted at the source after Fusion accepted the worker (the reason HR's list knows);
    -- one never accepted needs nothing
    select
        workers.record_key,
        'deleted_in_sunrise' as exception_reason
    from workers
    inner join held_by_fusion
        on workers.record_key = held_by_fusion.record_key
    where workers.is_deleted

),

final as (

    select
        workers.stream_name,
        workers.domain_name,

        -- record
        reasons.record_key,
        workers.batch_date,
        reasons.exception_reason,
        workers.unsendable_reason is not null or workers.is_deleted as is_held,

        -- worker
        workers.person_number,
        workers.last_name,
        workers.first_name,
        workers.started_on,
        workers.deleted_at,

        -- credentials
        workers.credentialing_status,
        workers.assignment_status_type_code,
        workers.license_number,
        workers.license_state,
        workers.license_expires_on,
        {{ dbt.datediff('workers.batch_date', 'workers.license_expires_on', 'day') }}
            as days_to_license_expiry

    from reasons

    inner join workers
        on reasons.record_key = workers.record_key

)

select * from final
