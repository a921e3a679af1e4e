-- dbMotion identity conflicts, the worklist of the team that keeps dbMotion's links (fixed
-- there, they arrive with the next extract):
-- * demographics_mismatch: the source records linked to one enterprise id disagree on name,
--   birth date or sex (compared by keyed fingerprints; a value a record lacks is not
--   compared); one row per record of that enterprise id.
-- * overlapping_links: one local id linked to two enterprise ids at the same time; one row per
--   link involved.
-- References obey the domain's PHI mode; dbMotion's own record ids identify the rows there.

with

identities as (

    select * from {{ ref('stg_dbmotion__patient_identities') }}

),

links as (

    select * from {{ ref('stg_dbmotion__patient_links') }}

),

current_links as (

    select * from {{ ref('int_identity__patient_links') }}

),

linked_identities as (

    select
        identities.identity_id,
        identities.source_system,
        identities.local_patient_reference,
        identities.name_fingerprint,
        identities.birth_date_fingerprint,
        identities.sex,
        current_links.enterprise_pseudonym,
        current_links.enterprise_reference

    from identities
    inner join current_links
        on
            identities.source_system = current_links.source_system
            and identities.local_patient_pseudonym = current_links.local_patient_pseudonym

),

mismatches as (

    select
        enterprise_pseudonym,
        trim(
            case when count(distinct name_fingerprint) > 1 then 'name ' else '' end
            || case when count(distinct birth_date_fingerprint) > 1 then 'birth_date ' else '' end
            || case when count(distinct sex) > 1 then 'sex' else '' end
        ) as mismatched_fields

    from linked_identities
    group by enterprise_pseudonym

),

demographics_mismatches as (

    select
        'identity:' || cast(linked_identities.identity_id as {{ dbt.type_string() }}) as conflict_id,
        'demographics_mismatch' as conflict_kind,
        linked_identities.source_system,
        linked_identities.local_patient_reference,
        linked_identities.enterprise_reference,
        mismatches.mismatched_fields

    from linked_identities
    inner join mismatches
        on linked_identities.enterprise_pseudonym = mismatches.enterprise_pseudonym
    where mismatches.mismatched_fields <> ''

),

overlapping_links as (

    select
        'link:' || cast(links.link_id as {{ dbt.type_string() }}) as conflict_id,
        'overlapping_links' as conflict_kind,
        links.source_system,
        links.local_patient_reference,
        links.enterprise_reference,
        cast(null as {{ dbt.type_string() }}) as mismatched_fields

    from links
    where exists (
        select 1
        from links as other_links
        where
            other_links.source_system = links.source_system
            and other_links.local_patient_pseudonym = links.local_patient_pseudonym
            and other_links.enterprise_pseudonym <> links.enterprise_pseudonym
            and (other_links.unlinked_at is null or links.linked_at < other_links.unlinked_at)
            and (links.unlinked_at is null or other_links.linked_at < links.unlinked_at)
    )

),

conflicts as (

    select * from demographics_mismatches
    union all
    select * from overlapping_links

)

select
    conflict_id,
    conflict_kind,
    source_system,
    {{ patient_reference('local_patient_reference') }} as local_patient_reference,
    {{ patient_reference('enterprise_reference') }} as enterprise_reference,
    mismatched_fields,
    {{ key_version_reference() }} as phi_key_version

from conflicts
