-- Sunrise clinicians in the workers' canonical shape (contract in
-- intermediate/_workers__contributions.yml): who the worker is, the keys and numbers Fusion
-- knows them by (HDL source keys CLN<id>, work terms ET<id>, assignment E<id>; PersonNumber is
-- the NPI), and the credentials the assignment status follows. Workforce data, not patient
-- PHI. Clinicians deleted in Sunrise are kept (is_deleted). The domain's Fusion settings, the
-- status map, the checks, what Fusion accepted and the six HDL components are the shared worker
-- models.

with

clinicians as (

    select * from {{ ref('stg_sunrise__clinicians') }}

),

contributed as (

    select
        'allscripts_sunrise' as data_source,

        -- ids and the numbers Fusion knows the worker by
        cast(clinicians.clinician_id as {{ dbt.type_string() }}) as record_key,
        'CLN' || cast(clinicians.clinician_id as {{ dbt.type_string() }}) as person_source_system_id,
        'ET' || cast(clinicians.clinician_id as {{ dbt.type_string() }}) as work_terms_number,
        'E' || cast(clinicians.clinician_id as {{ dbt.type_string() }}) as assignment_number,
        cast(clinicians.npi as {{ dbt.type_string() }}) as person_number,

        -- person
        cast(clinicians.last_name as {{ dbt.type_string() }}) as last_name,
        cast(clinicians.first_name as {{ dbt.type_string() }}) as first_name,
        cast(clinicians.email as {{ dbt.type_string() }}) as email_address,
        cast(clinicians.started_on as date) as started_on,

        -- credentials
        cast(clinicians.credentialing_status as {{ dbt.type_string() }}) as credentialing_status,
        cast(clinicians.license_number as {{ dbt.type_string() }}) as license_number,
        cast(clinicians.license_state as {{ dbt.type_string() }}) as license_state,
        cast(clinicians.license_expires_on as date) as license_expires_on,

        -- state
        clinicians.is_deleted,
        clinicians.deleted_at,
        cast(null as {{ dbt.type_string() }}) as source_exception_reason

    from clinicians

)

select * from contributed
