-- Practice Fusion charges of every practice. The patient id becomes the form the domain's
-- phi_mode keeps inside the warehouse (phi_identifier) plus the keyed patient pseudonym.

with

source as (

    select * from {{ source('veradigm', 'pf_charges') }}

),

renamed as (

    select
        -- ids
        source.practice_id,
        source.charge_id,
        {{ phi_identifier("source.practice_id || ':' || source.patient_id", 'local_patient') }}
            as patient_reference,
        {{ local_patient_pseudonym("'practice_fusion'", "source.practice_id || ':' || source.patient_id") }}
            as patient_pseudonym,
        source.provider_id,

        -- dimensions
        source.cpt_code,
        source.icd10_code,
        source.status as charge_status,

        -- amounts
        source.units,
        source.amount,

        -- dates
        source.service_date,
        source.updated_at,
        -- the day the charge's latest version landed: its Fusion batch
        {{ landed_on('source._dlt_load_id') }} as landed_on

    from source

)

select * from renamed
