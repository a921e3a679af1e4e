{{ config(materialized='ephemeral') }}

-- The supply consumptions of the source this domain builds, from its contribution: one model per
-- source in the canonical shape (contract: intermediate/_inv_transactions__contributions.yml).
-- Every model after this one is written once for all sources and keeps each domain's rows apart
-- (stream, domain); a build reads and writes only its own rows.

{%- set contribution = domain_contribution('inv_transactions') %}

select
    contributed.data_source,
    {{ setting_literal('EHRFUSION_STREAM') }} as stream_name,
    {{ setting_literal('EHRFUSION_DOMAIN') }} as domain_name,
    contributed.record_key,
    contributed.source_line_id,
    contributed.transaction_reference,
    contributed.item_number,
    contributed.location_id,
    contributed.quantity,
    contributed.consumed_on,
    contributed.is_deleted,
    contributed.source_exception_reason

from {{ contribution }} as contributed
