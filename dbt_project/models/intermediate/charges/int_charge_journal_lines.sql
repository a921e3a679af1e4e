{{ config(materialized='ephemeral') }}

-- The charges of the source this domain builds as journal entries in the journal chain's line
-- shape: one balanced entry per charge, side 0 debiting the patient receivables (the charge's
-- receivable account), side 1 crediting its revenue account, both for the charge's amount. A
-- voided charge is voided: what posted for it is taken back. The charge sources contribute
-- charges (contract: intermediate/_charges__contributions.yml); EHRFUSION_CHARGE_MODEL names the
-- domain's (set by `ehrfusion` from the source catalog).

{%- set contribution = domain_contribution('charge') %}

with

charges as (

    select * from {{ contribution }}

),

sides as (

    select 0 as side
    union all
    select 1 as side

),

lines as (

    select
        charges.data_source,
        cast(charges.charge_key * 2 + sides.side as bigint) as source_line_id,
        charges.journal_id,
        cast(charges.charge_key as bigint) as source_transaction_id,
        cast(null as {{ dbt.type_string() }}) as hospital_account_reference,
        charges.patient_reference,
        charges.patient_pseudonym,
        charges.billing_system,
        'CHARGE' as transaction_type,
        charges.facility_id,
        charges.department_id,
        case
            when sides.side = 0 then charges.receivable_account else charges.revenue_account
        end as source_account,
        charges.revenue_code,
        charges.cpt_code,
        case when sides.side = 1 then charges.cpt_crosswalk_system end as cpt_crosswalk_system,
        'USD' as currency_code,
        case
            when sides.side = 0 then charges.line_description || ' AR'
            else charges.line_description || ' REV ' || charges.revenue_description
        end as line_description,
        case when charges.is_voided then 'VOIDED' else 'ACTIVE' end as record_status,
        charges.is_voided,
        cast(null as {{ dbt.type_string() }}) as source_file,
        cast(null as {{ dbt.type_string() }}) as debit_amount_text,
        cast(null as {{ dbt.type_string() }}) as credit_amount_text,
        cast(case when sides.side = 0 then charges.amount end as numeric(18, 2)) as debit_amount,
        cast(case when sides.side = 1 then charges.amount end as numeric(18, 2))
            as credit_amount,
        case when charges.amount is null then 'missing' else 'ok' end as amount_status,
        charges.feed_date,
        charges.delivered_on,
        charges.accounting_date

    from charges

    cross join sides

)

select * from lines
