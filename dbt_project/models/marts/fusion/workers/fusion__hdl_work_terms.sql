-- HDL WorkTerms rows (Worker.dat) for the domain's workers Fusion does not hold yet: the terms
-- every work relationship needs, effective from the start.

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
        changes.work_terms_source_system_id as source_system_id,
        changes.work_relationship_source_system_id as period_of_service_id_source_system_id,
        changes.action_code,
        changes.started_on as effective_start_date,
        changes.effective_sequence,
        changes.effective_latest_change,
        changes.started_on as date_start,
        changes.work_terms_number as assignment_number,
        changes.primary_flag as primary_work_terms_flag

    from changes

)

select * from final
