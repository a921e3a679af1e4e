-- HDL PersonEmail rows (Worker.dat) for the Sunrise clinicians Fusion does not hold yet: the
-- primary work email, from their start.

with

changes as (

    select * from {{ ref('int_sunrise__clinician_changes') }}

),

final as (

    select
        -- record
        changes.record_key,
        changes.batch_date,

        -- attributes
        changes.source_system_owner,
        changes.email_source_system_id as source_system_id,
        changes.person_source_system_id as person_id_source_system_id,
        changes.started_on as date_from,
        changes.email_type,
        changes.email_address,
        changes.primary_flag

    from changes

)

select * from final
