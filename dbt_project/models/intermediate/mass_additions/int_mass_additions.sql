{{ config(materialized='ephemeral') }}

-- The capital assets of the source this domain builds, from its contribution: one model per
-- source in the canonical shape (contract: intermediate/_mass_additions__contributions.yml).
-- Every model after this one is written once for all sources and keeps each domain's rows apart
-- (stream, domain); a build reads and writes only its own rows.

{%- set contribution = domain_contribution('mass_additions') %}

select
    contributed.data_source,
    {{ setting_literal('EHRFUSION_STREAM') }} as stream_name,
    {{ setting_literal('EHRFUSION_DOMAIN') }} as domain_name,
    contributed.record_key,
    contributed.asset_tag,
    contributed.mass_addition_id,
    contributed.serial_number,
    contributed.asset_description,
    contributed.manufacturer,
    contributed.acquisition_cost,
    contributed.acquired_on,
    contributed.units,
    contributed.facility_id,
    contributed.department_id,
    contributed.is_deleted,
    contributed.source_exception_reason

from {{ contribution }} as contributed
