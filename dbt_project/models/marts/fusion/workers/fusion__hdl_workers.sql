-- The HDL Worker.dat rows for the domain's workers Fusion does not hold yet, one row per worker
-- and batch day holding all six components it is sent with (MERGE, the same source keys and
-- effective start date each time, so a change corrects the current record). A component's
-- columns are `<component>__<attribute>`, both in snake_case (PersonName's
-- PersonId(SourceSystemId) is person_name__person_id_source_system_id), which the export
-- splits into the component's lines. It carries the record's hash (what Fusion's acceptance is
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

        -- Worker: the person, hired on the worker's start date
        changes.source_system_owner as worker__source_system_owner,
        changes.person_source_system_id as worker__source_system_id,
        changes.started_on as worker__effective_start_date,
        changes.person_number as worker__person_number,
        changes.started_on as worker__start_date,
        changes.action_code as worker__action_code,

        -- PersonName: the global name, effective from the start
        changes.source_system_owner as person_name__source_system_owner,
        changes.name_source_system_id as person_name__source_system_id,
        changes.started_on as person_name__effective_start_date,
        changes.person_source_system_id as person_name__person_id_source_system_id,
        changes.name_type as person_name__name_type,
        changes.legislation_code as person_name__legislation_code,
        changes.last_name as person_name__last_name,
        changes.first_name as person_name__first_name,

        -- PersonEmail: the primary work email, from the start
        changes.source_system_owner as person_email__source_system_owner,
        changes.email_source_system_id as person_email__source_system_id,
        changes.person_source_system_id as person_email__person_id_source_system_id,
        changes.started_on as person_email__date_from,
        changes.email_type as person_email__email_type,
        changes.email_address as person_email__email_address,
        changes.primary_flag as person_email__primary_flag,

        -- WorkRelationship: the primary employee relationship with the legal employer
        changes.source_system_owner as work_relationship__source_system_owner,
        changes.work_relationship_source_system_id as work_relationship__source_system_id,
        changes.person_source_system_id as work_relationship__person_id_source_system_id,
        changes.legal_employer_name as work_relationship__legal_employer_name,
        changes.started_on as work_relationship__date_start,
        changes.worker_type as work_relationship__worker_type,
        changes.primary_flag as work_relationship__primary_flag,

        -- WorkTerms: the terms every work relationship needs, effective from the start
        changes.source_system_owner as work_terms__source_system_owner,
        changes.work_terms_source_system_id as work_terms__source_system_id,
        changes.work_relationship_source_system_id
            as work_terms__period_of_service_id_source_system_id,
        changes.action_code as work_terms__action_code,
        changes.started_on as work_terms__effective_start_date,
        changes.effective_sequence as work_terms__effective_sequence,
        changes.effective_latest_change as work_terms__effective_latest_change,
        changes.started_on as work_terms__date_start,
        changes.work_terms_number as work_terms__assignment_number,
        changes.primary_flag as work_terms__primary_work_terms_flag,

        -- Assignment: the primary employee assignment in the domain's business unit, its
        -- status from the worker's credentialing (an expired licence suspends it)
        changes.source_system_owner as assignment__source_system_owner,
        changes.assignment_source_system_id as assignment__source_system_id,
        changes.action_code as assignment__action_code,
        changes.started_on as assignment__effective_start_date,
        changes.effective_sequence as assignment__effective_sequence,
        changes.effective_latest_change as assignment__effective_latest_change,
        changes.work_terms_source_system_id as assignment__work_terms_assignment_id_source_system_id,
        changes.assignment_number as assignment__assignment_number,
        changes.assignment_status_type_code as assignment__assignment_status_type_code,
        changes.person_type_code as assignment__person_type_code,
        changes.business_unit_short_code as assignment__business_unit_short_code,
        changes.primary_flag as assignment__primary_assignment_flag

    from changes

)

select * from final
