-- Sunrise encounters. The patient's local MRN is replaced by the form the domain's phi_mode
-- keeps inside the warehouse (phi_identifier) and by its keyed pseudonym; the name is dropped.
-- Encounters deleted in Sunrise stay with their last values, `is_deleted` set.

with

source as (

    select * from {{ source('allscripts_sunrise', 'encounters') }}

),

renamed as (

    select
        -- ids
        source.encounter_id,
        {{ phi_identifier('source.patient_id', 'local_patient') }} as patient_reference,
        -- Keyed in every mode: the accounting of disclosures and int_identity__patient_pseudonyms
        -- name patients by it.
        {{ local_patient_pseudonym("'sunrise'", 'source.patient_id') }} as patient_pseudonym,

        -- dimensions
        source.facility_code as facility_id,

        -- deletion: a row deleted in Sunrise stays as a tombstone with its last values
        coalesce(source._deleted, false) as is_deleted,
        case
            when source._deleted then to_timestamp(cast(source._dlt_load_id as double precision))
        end as deleted_at,

        -- dates
        source.admit_date as admission_date,
        source.discharge_date,
        source.last_modified as last_modified_at

    from source

)

select * from renamed
