-- The patient records each source system registered with dbMotion. The local id becomes its
-- phi_identifier form and keyed pseudonym; names and birth dates become keyed fingerprints, so
-- records can be compared without reading them; the postal code is not kept.

with

source as (

    select * from {{ source('allscripts_dbmotion', 'patient_identities') }}

),

renamed as (

    select
        -- ids
        source.identity_id,
        source.source_system,
        {{ phi_identifier('source.local_patient_id', 'local_patient') }} as local_patient_reference,
        {{ local_patient_pseudonym('source.source_system', 'source.local_patient_id') }}
            as local_patient_pseudonym,

        -- demographics, keyed
        {{ pseudonymize("upper(trim(source.last_name)) || ',' || upper(trim(source.first_name))", 'patient_name') }}
            as name_fingerprint,
        {{ pseudonymize('cast(source.birth_date as ' ~ dbt.type_string() ~ ')', 'birth_date') }}
            as birth_date_fingerprint,
        source.sex,

        -- dates
        source.last_modified as last_modified_at

    from source

)

select * from renamed
