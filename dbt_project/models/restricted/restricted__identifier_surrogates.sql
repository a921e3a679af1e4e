{{
    config(
        materialized='incremental',
        schema='restricted',
        full_refresh=false,
        enabled=phi_mode() == 'safe_harbor',
        post_hook="create unique index if not exists restricted__identifier_surrogates_lookup
            on {{ this }} (identifier_kind, key_version, identifier_pseudonym)",
    )
}}

-- The safe-harbor re-identification code (45 CFR 164.514(c)): each identifier's keyed pseudonym
-- gets a random surrogate once, reused on every later run. The raw identifier is never stored;
-- the surrogate is not derived from it. full_refresh=false: rebuilding would reassign them.
-- The unique index enforces one surrogate per pseudonym and serves staging's lookups.

with

identifiers as (

    select distinct
        'mrn' as identifier_kind,
        {{ pseudonymize('pat_mrn_id', 'mrn') }} as identifier_pseudonym
    from {{ source('epic_resolute', 'resolute_journal_lines') }}
    where pat_mrn_id is not null

    union

    select distinct
        'hospital_account' as identifier_kind,
        {{ pseudonymize('hsp_account_id', 'hospital_account') }} as identifier_pseudonym
    from {{ source('epic_resolute', 'resolute_journal_lines') }}
    where hsp_account_id is not null

),

unassigned as (

    select
        identifier_kind,
        identifier_pseudonym
    from identifiers
    {% if is_incremental() %}
        where not exists (
            select 1
            from {{ this }} as assigned
            where
                assigned.identifier_kind = identifiers.identifier_kind
                and assigned.key_version = '{{ phi_key_version() }}'
                and assigned.identifier_pseudonym = identifiers.identifier_pseudonym
        )
    {% endif %}

)

select
    identifier_kind,
    cast('{{ phi_key_version() }}' as {{ dbt.type_string() }}) as key_version,
    identifier_pseudonym,
    {{ random_surrogate() }} as surrogate

from unassigned
