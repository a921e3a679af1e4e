-- HDL WorkRelationship rows (Worker.dat) for the domain's workers Fusion does not hold yet: the
-- primary employee relationship with the domain's legal employer.

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
        changes.work_relationship_source_system_id as source_system_id,
        changes.person_source_system_id as person_id_source_system_id,
        changes.legal_employer_name,
        changes.started_on as date_start,
        changes.worker_type,
        changes.primary_flag

    from changes

)

select * from final
