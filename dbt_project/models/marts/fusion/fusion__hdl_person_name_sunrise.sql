-- HDL PersonName rows (Worker.dat) for the Sunrise clinicians Fusion does not hold yet: the
-- clinician's global name, effective from their start.

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
        changes.name_source_system_id as source_system_id,
        changes.started_on as effective_start_date,
        changes.person_source_system_id as person_id_source_system_id,
        changes.name_type,
        changes.legislation_code,
        changes.last_name,
        changes.first_name

    from changes

)

select * from final
