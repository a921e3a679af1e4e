-- Sunrise clinicians as Fusion workers: every value the six Worker.dat components send for a
-- clinician, its batch (the day its latest version landed), the hash of those values, and why
-- it cannot be sent where it cannot. The assignment status comes from the credentialing status
-- through seeds/clinician_assignment_status.csv; a licence expired before the batch day wins
-- (LICENSE_EXPIRED). Settings are the domain's Fusion target (empty -> null, which the marts'
-- tests refuse). Clinicians deleted in Sunrise are kept (is_deleted): they are never sent, and
-- the review list names those Fusion holds.

with

clinicians as (

    select * from {{ ref('stg_sunrise__clinicians') }}

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
        clinicians.*,
        {{ run_day() }} as batch_date,
        coalesce(clinicians.license_expires_on < {{ run_day() }}, false) as is_license_expired

    from clinicians

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

workers as (

    select
        -- record
        mapped.clinician_id,
        cast(mapped.clinician_id as {{ dbt.type_string() }}) as record_key,
        mapped.batch_date,
        case
            when nullif(trim(mapped.last_name), '') is null then 'missing_last_name'
            when mapped.started_on is null then 'missing_start_date'
            when not mapped.is_status_mapped then 'unmapped_credentialing_status'
        end as unsendable_reason,

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
        'CLN' || cast(mapped.clinician_id as {{ dbt.type_string() }}) as person_source_system_id,
        'CLN' || cast(mapped.clinician_id as {{ dbt.type_string() }}) || '_NAME' as name_source_system_id,
        'CLN' || cast(mapped.clinician_id as {{ dbt.type_string() }}) || '_EMAIL' as email_source_system_id,
        'CLN' || cast(mapped.clinician_id as {{ dbt.type_string() }}) || '_WR'
            as work_relationship_source_system_id,
        'CLN' || cast(mapped.clinician_id as {{ dbt.type_string() }}) || '_WT' as work_terms_source_system_id,
        'CLN' || cast(mapped.clinician_id as {{ dbt.type_string() }}) || '_ASG' as assignment_source_system_id,

        -- person
        mapped.npi as person_number,
        mapped.started_on,
        'HIRE' as action_code,
        'GLOBAL' as name_type,
        'US' as legislation_code,
        mapped.last_name,
        mapped.first_name,
        'W1' as email_type,
        mapped.email as email_address,

        -- employment
        settings.legal_employer_name,
        'E' as worker_type,
        1 as effective_sequence,
        'Y' as effective_latest_change,
        'Y' as primary_flag,
        'ET' || cast(mapped.clinician_id as {{ dbt.type_string() }}) as work_terms_number,
        'E' || cast(mapped.clinician_id as {{ dbt.type_string() }}) as assignment_number,
        mapped.assignment_status_type_code,
        'Employee' as person_type_code,
        settings.business_unit_short_code

    from mapped

    cross join settings

),

hashed as (

    select
        workers.*,
        -- every value sent, in a fixed order; dates as YYYYMMDD whatever the session's style
        md5(
            coalesce(workers.source_system_owner, '')
            || '|' || workers.person_source_system_id
            || '|' || coalesce(workers.person_number, '')
            || '|' || coalesce({{ format_yyyymmdd('workers.started_on') }}, '')
            || '|' || workers.action_code
            || '|' || workers.name_type
            || '|' || workers.legislation_code
            || '|' || coalesce(workers.last_name, '')
            || '|' || coalesce(workers.first_name, '')
            || '|' || workers.email_type
            || '|' || coalesce(workers.email_address, '')
            || '|' || coalesce(workers.legal_employer_name, '')
            || '|' || workers.worker_type
            || '|' || cast(workers.effective_sequence as {{ dbt.type_string() }})
            || '|' || workers.effective_latest_change
            || '|' || workers.primary_flag
            || '|' || workers.work_terms_number
            || '|' || workers.assignment_number
            || '|' || coalesce(workers.assignment_status_type_code, '')
            || '|' || workers.person_type_code
            || '|' || coalesce(workers.business_unit_short_code, '')
        ) as record_hash

    from workers

)

select * from hashed
