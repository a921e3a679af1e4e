-- HDL PersonEmail rows (Worker.dat) for the domain's workers Fusion does not hold yet: the
-- primary work email, from the start.

with

changes as (

    select * from {{ ref('int_worker_changes') }}
    where {{ in_this_domain() }}

),

final as (

    select
        changes.stream_name,
        changes.domain_name,

        -- record
        changes.record_key,
        changes.batch_date,

        -- attributes
        changes.source_system_owner,
        changes.email_source_system_id as source_system_id,
        changes.person_source_system_id as person_id_source_system_id,
        changes.started_on as date_from,
        changes.email_type,
        changes.email_address,
        changes.primary_flag

    from changes

)

select * from final
