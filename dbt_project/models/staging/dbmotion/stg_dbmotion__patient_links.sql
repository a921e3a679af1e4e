-- dbMotion's links of local patient ids to enterprise ids over time. Both ids become their
-- phi_identifier forms and keyed pseudonyms; the enterprise id's pseudonym (kind patient) is
-- the pseudonym of every patient linked to it.

with

source as (

    select * from {{ source('allscripts_dbmotion', 'patient_links') }}

),

renamed as (

    select
        -- ids
        source.link_id,
        {{ phi_identifier('source.enterprise_id', 'patient') }} as enterprise_reference,
        {{ pseudonymize('source.enterprise_id', 'patient') }} as enterprise_pseudonym,
        source.source_system,
        {{ phi_identifier('source.local_patient_id', 'local_patient') }} as local_patient_reference,
        {{ local_patient_pseudonym('source.source_system', 'source.local_patient_id') }}
            as local_patient_pseudonym,

        -- validity
        source.unlinked_at is null as is_current,
        source.linked_at,
        source.unlinked_at,
        source.last_modified as last_modified_at

    from source

)

select * from renamed
