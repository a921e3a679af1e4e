-- HDL PersonName rows (Worker.dat) for the domain's workers Fusion does not hold yet: the
-- global name, effective from the start.

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
        changes.name_source_system_id as source_system_id,
        changes.started_on as effective_start_date,
        changes.person_source_system_id as person_id_source_system_id,
        changes.name_type,
        changes.legislation_code,
        changes.last_name,
        changes.first_name

    from changes

)

select * from final
