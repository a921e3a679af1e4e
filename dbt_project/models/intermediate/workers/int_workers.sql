{{ config(materialized='ephemeral') }}

-- The workers of the source this domain builds, from its contribution: one model per source in
-- the canonical shape (contract: intermediate/_workers__contributions.yml). Every model after
-- this one is written once for all sources and keeps each domain's rows apart (stream, domain);
-- a build reads and writes only its own rows.

{%- set contribution = domain_contribution('workers') %}

select
    contributed.data_source,
    {{ setting_literal('EHRFUSION_STREAM') }} as stream_name,
    {{ setting_literal('EHRFUSION_DOMAIN') }} as domain_name,
    contributed.record_key,
    contributed.person_source_system_id,
    contributed.work_terms_number,
    contributed.assignment_number,
    contributed.person_number,
    contributed.last_name,
    contributed.first_name,
    contributed.email_address,
    contributed.started_on,
    contributed.credentialing_status,
    contributed.license_number,
    contributed.license_state,
    contributed.license_expires_on,
    contributed.is_deleted,
    contributed.deleted_at,
    contributed.source_exception_reason

from {{ contribution }} as contributed
