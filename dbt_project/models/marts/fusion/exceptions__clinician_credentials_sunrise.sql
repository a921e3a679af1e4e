-- The HR review list of Sunrise clinicians, one row per clinician and reason: licences expired
-- before the batch day (the assignment goes to Fusion suspended) or expiring within 90 days of
-- it, credentialing not ACTIVE, and clinicians that cannot be sent to Fusion at all (no last
-- name, no start date, a credentialing status the status seed does not map; `is_held`). Licence
-- numbers stay here, out of the marts sent to Fusion.

with

workers as (

    select * from {{ ref('int_sunrise__clinician_workers') }}

),

reasons as (

    select
        workers.record_key,
        workers.unsendable_reason as exception_reason
    from workers
    where workers.unsendable_reason is not null

    union all

    select
        workers.record_key,
        'license_expired' as exception_reason
    from workers
    where workers.is_license_expired

    union all

    select
        workers.record_key,
        'license_expiring' as exception_reason
    from workers
    where
        workers.license_expires_on >= workers.batch_date
        and workers.license_expires_on <= workers.batch_date + 90

    union all

    select
        workers.record_key,
        'credentialing_not_active' as exception_reason
    from workers
    where
        workers.is_status_mapped
        and workers.credentialing_status <> 'ACTIVE'

),

final as (

    select
        -- record
        reasons.record_key,
        workers.batch_date,
        reasons.exception_reason,
        workers.unsendable_reason is not null as is_held,

        -- clinician
        workers.clinician_id,
        workers.person_number,
        workers.last_name,
        workers.first_name,
        workers.started_on,

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
