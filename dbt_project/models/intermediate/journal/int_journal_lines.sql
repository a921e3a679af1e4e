{{ config(materialized='ephemeral') }}

-- The journal lines of the source this domain builds, from its contribution: one model per GL
-- source in the canonical journal-line shape (contract: intermediate/_journal__contributions.yml). Every
-- model after this one is written once for all sources and keeps each domain's rows apart
-- (stream, domain); a build reads and writes only its own source's rows.
--
-- EHRFUSION_JOURNAL_MODEL names the domain's contribution and EHRFUSION_JOURNAL_MODELS every
-- GL source's (both set by `ehrfusion` from the source catalog; macros/utils/domain_contribution),
-- so dbt's lineage runs from each source table to each Fusion column while a build compiles only
-- its own source. Charge sources contribute through int_charge_journal_lines.

{%- set contribution = domain_contribution('journal') %}

select
    data_source,
    {{ setting_literal('EHRFUSION_STREAM') }} as stream_name,
    {{ setting_literal('EHRFUSION_DOMAIN') }} as domain_name,
    source_line_id,
    journal_id,
    source_transaction_id,
    hospital_account_reference,
    patient_reference,
    patient_pseudonym,
    billing_system,
    transaction_type,
    facility_id,
    department_id,
    source_account,
    revenue_code,
    cpt_code,
    cpt_crosswalk_system,
    currency_code,
    line_description,
    record_status,
    is_voided,
    source_file,
    debit_amount_text,
    credit_amount_text,
    debit_amount,
    credit_amount,
    amount_status,
    feed_date,
    delivered_on,
    accounting_date

from {{ contribution }}
