{{ config(materialized='table') }}

-- The enterprise id every local patient id is linked to now. A merge or unmerge closes the old
-- link when it opens the new one; should a feed leave two links open at once, the latest wins
-- here and exceptions__identity_conflicts lists both.

with

current_links as (

    select
        *,
        row_number() over (
            partition by source_system, local_patient_pseudonym
            order by linked_at desc, link_id desc
        ) as link_rank

    from {{ ref('stg_dbmotion__patient_links') }}
    where is_current

)

select
    source_system,
    local_patient_pseudonym,
    local_patient_reference,
    enterprise_pseudonym,
    enterprise_reference,
    link_id,
    linked_at

from current_links
where link_rank = 1
