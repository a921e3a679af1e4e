-- Practice Fusion charges of every practice in the canonical charge shape
-- (intermediate/_charges__contributions.yml), which the journal chain turns into balanced
-- entries (intermediate/charges): revenue by the CPT code's account for the practice
-- (cpt_gl_crosswalk, keyed by practice). A charge with status 'voided' is voided. Practice
-- Fusion has no posting date: the entry is dated on the day the charge was last entered or
-- changed in the practice (updated_at, UTC), and its batch is the day that version landed.
-- Charge ids are the practice's strings: the charge key is the first 60 bits of
-- md5('<practice>:<charge>') (line ids are unique: tested in the chain).

with

charges as (

    select
        *,
        {{ md5_bigint60("practice_id || ':' || charge_id") }} as charge_key

    from {{ ref('stg_veradigm__pf_charges') }}

)

select
    'practice_fusion' as data_source,
    cast(charges.charge_key as bigint) as charge_key,
    'PF-' || charges.practice_id || ':' || charges.charge_id as journal_id,
    charges.patient_reference,
    charges.patient_pseudonym,
    'PB' as billing_system,
    cast(null as {{ dbt.type_string() }}) as facility_id,
    charges.practice_id as department_id,
    '1200' as receivable_account,
    charges.cpt_code as revenue_account,
    cast(null as {{ dbt.type_string() }}) as revenue_code,
    charges.cpt_code,
    'practice_fusion' as cpt_crosswalk_system,
    'PRACTICE FUSION CHARGE' as line_description,
    'CPT ' || coalesce(charges.cpt_code, '-') as revenue_description,
    coalesce(lower(charges.charge_status) = 'voided', false) as is_voided,
    cast(charges.amount as numeric(18, 2)) as amount,
    cast(charges.updated_at as date) as feed_date,
    charges.landed_on as delivered_on,
    cast(charges.updated_at as date) as accounting_date

from charges
