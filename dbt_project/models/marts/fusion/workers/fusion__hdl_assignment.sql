-- HDL Assignment rows (Worker.dat) for the domain's workers Fusion does not hold yet: the
-- primary employee assignment in the domain's business unit, its status from the worker's
-- credentialing (an expired licence suspends it).

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
        changes.assignment_source_system_id as source_system_id,
        changes.action_code,
        changes.started_on as effective_start_date,
        changes.effective_sequence,
        changes.effective_latest_change,
        changes.work_terms_source_system_id as work_terms_assignment_id_source_system_id,
        changes.assignment_number,
        changes.assignment_status_type_code,
        changes.person_type_code,
        changes.business_unit_short_code,
        changes.primary_flag as primary_assignment_flag

    from changes

)

select * from final
