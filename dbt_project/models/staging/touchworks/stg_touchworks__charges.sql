-- TouchWorks ambulatory charges. The patient id becomes the form the domain's phi_mode keeps
-- inside the warehouse (phi_identifier) plus the keyed patient pseudonym. `landed_on` is the
-- UTC day the charge's latest version landed.

with

source as (

    select * from {{ source('veradigm_touchworks', 'tw_charges') }}

),

renamed as (

    select
        -- ids
        source.charge_id,
        {{ phi_identifier('source.patient_id', 'local_patient') }} as patient_reference,
        {{ local_patient_pseudonym("'touchworks'", 'source.patient_id') }} as patient_pseudonym,
        source.provider_id,

        -- dimensions
        source.facility_code as facility_id,
        source.department_code as department_id,
        source.gl_account as source_account,
        source.cpt_code,
        source.charge_status,
        source.charge_status = 'V' as is_voided,

        -- amounts
        source.units,
        source.amount,

        -- dates
        source.service_date,
        source.post_date,
        -- the day the charge's latest version landed: its Fusion batch
        {{ landed_on('source._dlt_load_id') }} as landed_on

    from source

)

select * from renamed
