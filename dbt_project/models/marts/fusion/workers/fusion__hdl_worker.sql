-- HDL Worker (component Worker) rows (Worker.dat) for the domain's workers Fusion does not hold
-- yet: the person, hired on the worker's start date, one per worker and batch day; the columns
-- are the attributes in snake_case. It carries the record's hash (what Fusion's acceptance is
-- recorded with) for the whole worker.

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
        changes.record_hash,
        cast(null as {{ dbt.type_numeric() }}) as measure,

        -- attributes
        changes.source_system_owner,
        changes.person_source_system_id as source_system_id,
        changes.started_on as effective_start_date,
        changes.person_number,
        changes.started_on as start_date,
        changes.action_code

    from changes

)

select * from final
