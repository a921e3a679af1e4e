-- Patients of the Unity organisation. Identifiers become the forms the domain's phi_mode keeps
-- inside the warehouse (phi_identifier) plus the keyed patient pseudonym; names are dropped;
-- birth date and postal code keep what the mode allows of them.

with

source as (

    select * from {{ source('veradigm', 'unity_patients') }}

),

renamed as (

    select
        -- ids
        {{ phi_identifier('source.patient_id', 'local_patient') }} as patient_reference,
        -- Keyed in every mode: the accounting of disclosures and int_identity__patient_pseudonyms
        -- name patients by it.
        {{ local_patient_pseudonym("'unity'", 'source.patient_id') }} as patient_pseudonym,
        {{ phi_identifier('source.mrn', 'mrn') }} as mrn_reference,

        -- demographics
        {{ patient_date('source.birth_date') }} as birth_date,
        {{ patient_year('source.birth_date') }} as birth_year,
        source.sex,
        {{ patient_zip('source.postal_code', ref('safe_harbor_restricted_zip3')) }} as postal_code,

        -- dates
        source.changed_at

    from source

)

select * from renamed
