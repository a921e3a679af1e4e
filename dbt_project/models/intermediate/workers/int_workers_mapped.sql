-- The domain's workers as Fusion sends them: every value the six Worker.dat components carry, the
-- batch (the run's day), the hash of those values, and why a worker cannot be sent where it
-- cannot (the source's own reason first). The assignment status comes from the credentialing
-- status through seeds/clinician_assignment_status.csv; a licence expired before the batch day
-- wins (LICENSE_EXPIRED). Settings are the domain's Fusion target (empty -> null, which the
-- marts' tests refuse). Workers deleted at the source are kept (is_deleted): they are never
-- sent, and the review list names those Fusion holds.

with

workers as (

    select * from {{ ref('int_workers') }}
    where {{ in_this_domain() }}

),

statuses as (

    select * from {{ ref('clinician_assignment_status') }}

),

settings as (

    select
        nullif({{ setting_literal('EHRFUSION_SOURCE_SYSTEM_OWNER') }}, '')
            as source_system_owner,
        nullif({{ setting_literal('EHRFUSION_LEGAL_EMPLOYER') }}, '')
            as legal_employer_name,
        nullif({{ setting_literal('EHRFUSION_BUSINESS_UNIT') }}, '')
            as business_unit_short_code

),

dated as (

    select
        workers.*,
        {{ run_day() }} as batch_date,
        coalesce(workers.license_expires_on < {{ run_day() }}, false) as is_license_expired

    from workers

),

mapped as (

    select
        dated.*,
        credentialing.credentialing_status is not null as is_status_mapped,
        case
            when credentialing.credentialing_status is null then null
            when dated.is_license_expired then licence.assignment_status_type_code
            else credentialing.assignment_status_type_code
        end as assignment_status_type_code

    from dated

    left join statuses as credentialing
        on dated.credentialing_status = credentialing.credentialing_status

    left join statuses as licence
        on licence.credentialing_status = 'LICENSE_EXPIRED'

),

prepared as (

    select
        -- record
        mapped.data_source,
        mapped.stream_name,
        mapped.domain_name,
        mapped.record_key,
        mapped.batch_date,
        coalesce(
            mapped.source_exception_reason,
            case
                when nullif(trim(mapped.last_name), '') is null then 'missing_last_name'
                when mapped.started_on is null then 'missing_start_date'
                when not mapped.is_status_mapped then 'unmapped_credentialing_status'
            end
        ) as unsendable_reason,

        -- source facts kept for the review list (never sent)
        mapped.credentialing_status,
        mapped.license_number,
        mapped.license_state,
        mapped.license_expires_on,
        mapped.is_license_expired,
        mapped.is_status_mapped,
        mapped.is_deleted,
        mapped.deleted_at,

        -- source keys, one per component
        settings.source_system_owner,
        mapped.person_source_system_id,
        mapped.person_source_system_id || '_NAME' as name_source_system_id,
        mapped.person_source_system_id || '_EMAIL' as email_source_system_id,
        mapped.person_source_system_id || '_WR' as work_relationship_source_system_id,
        mapped.person_source_system_id || '_WT' as work_terms_source_system_id,
        mapped.person_source_system_id || '_ASG' as assignment_source_system_id,

        -- person
        mapped.person_number,
        mapped.started_on,
        'HIRE' as action_code,
        'GLOBAL' as name_type,
        'US' as legislation_code,
        mapped.last_name,
        mapped.first_name,
        'W1' as email_type,
        mapped.email_address,

        -- employment
        settings.legal_employer_name,
        'E' as worker_type,
        1 as effective_sequence,
        'Y' as effective_latest_change,
        'Y' as primary_flag,
        mapped.work_terms_number,
        mapped.assignment_number,
        mapped.assignment_status_type_code,
        'Employee' as person_type_code,
        settings.business_unit_short_code

    from mapped

    cross join settings

),

hashed as (

    select
        prepared.*,
        -- every value sent, in a fixed order; dates as YYYYMMDD whatever the session's style
        md5(
            coalesce(prepared.source_system_owner, '')
            || '|' || prepared.person_source_system_id
            || '|' || coalesce(prepared.person_number, '')
            || '|' || coalesce({{ format_yyyymmdd('prepared.started_on') }}, '')
            || '|' || prepared.action_code
            || '|' || prepared.name_type
            || '|' || prepared.legislation_code
            || '|' || coalesce(prepared.last_name, '')
            || '|' || coalesce(prepared.first_name, '')
            || '|' || prepared.email_type
            || '|' || coalesce(prepared.email_address, '')
            || '|' || coalesce(prepared.legal_employer_name, '')
            || '|' || prepared.worker_type
            || '|' || cast(prepared.effective_sequence as {{ dbt.type_string() }})
            || '|' || prepared.effective_latest_change
            || '|' || prepared.primary_flag
            || '|' || prepared.work_terms_number
            || '|' || prepared.assignment_number
            || '|' || coalesce(prepared.assignment_status_type_code, '')
            || '|' || prepared.person_type_code
            || '|' || coalesce(prepared.business_unit_short_code, '')
        ) as record_hash

    from prepared

)

select * from hashed
