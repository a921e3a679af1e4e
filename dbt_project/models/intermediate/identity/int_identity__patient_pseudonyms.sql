{{ config(materialized='table') }}

-- One pseudonym per patient across source systems: the enterprise id's for every local id
-- dbMotion links to one (merged patients share it), the local id's own (the staging models'
-- patient_pseudonym) otherwise. Joined on the local pseudonym: no raw id leaves staging.

with

local_ids as (

    select
        source_system,
        local_patient_pseudonym
    from {{ ref('stg_dbmotion__patient_identities') }}

    union

    select
        source_system,
        local_patient_pseudonym
    from {{ ref('int_identity__patient_links') }}

),

links as (

    select * from {{ ref('int_identity__patient_links') }}

)

select
    local_ids.source_system,
    local_ids.local_patient_pseudonym,
    coalesce(links.enterprise_pseudonym, local_ids.local_patient_pseudonym) as patient_pseudonym,
    links.enterprise_pseudonym is not null as is_linked

from local_ids
left join links
    on
        local_ids.source_system = links.source_system
        and local_ids.local_patient_pseudonym = links.local_patient_pseudonym
