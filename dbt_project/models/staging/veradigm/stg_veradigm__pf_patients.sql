-- Practice Fusion patients of every practice. Identifiers become the forms the domain's
-- phi_mode keeps inside the warehouse (phi_identifier) plus the keyed patient pseudonym; names
-- are dropped; birth date and postal code keep what the mode allows of them.

with

source as (

    select * from {{ source('veradigm', 'pf_patients') }}

),

renamed as (

    select
        -- ids
        source.practice_id,
        {{ phi_identifier("source.practice_id || ':' || source.patient_id", 'local_patient') }}
            as patient_reference,
        -- Keyed in every mode: the accounting of disclosures and int_identity__patient_pseudonyms
        -- name patients by it.
        {{ local_patient_pseudonym("'practice_fusion'", "source.practice_id || ':' || source.patient_id") }}
            as patient_pseudonym,
        {{ phi_identifier('source.mrn', 'mrn') }} as mrn_reference,

        -- demographics
        {{ patient_date('source.birth_date') }} as birth_date,
        {{ patient_year('source.birth_date') }} as birth_year,
        source.sex,
        {{ patient_zip('source.postal_code', ref('safe_harbor_restricted_zip3')) }} as postal_code,

        -- dates
        source.updated_at

    from source

)

select * from renamed
