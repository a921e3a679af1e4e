-- Charges of the Unity organisation in the canonical charge shape
-- (intermediate/_charges__contributions.yml), which the journal chain turns into balanced
-- entries (intermediate/charges): revenue by the CPT code's account (cpt_gl_crosswalk; a Unity
-- endpoint serves one organisation, so its rows carry location '*'). A charge with status
-- 'voided' is voided. Unity has no posting date: the entry is dated on the day the charge was
-- last entered or changed (changed_at, UTC), and its batch is the day that version landed.
-- Charge ids are strings: the charge key is the first 60 bits of md5(<charge id>).

with

charges as (

    select
        *,
        {{ md5_bigint60("charge_id") }} as charge_key

    from {{ ref('stg_veradigm__unity_charges') }}

)

select
    'veradigm_unity' as data_source,
    cast(charges.charge_key as bigint) as charge_key,
    'UNITY-' || charges.charge_id as journal_id,
    charges.patient_reference,
    charges.patient_pseudonym,
    'PB' as billing_system,
    cast(null as {{ dbt.type_string() }}) as facility_id,
    '*' as department_id,
    '1200' as receivable_account,
    charges.cpt_code as revenue_account,
    cast(null as {{ dbt.type_string() }}) as revenue_code,
    charges.cpt_code,
    'unity' as cpt_crosswalk_system,
    'UNITY CHARGE' as line_description,
    'CPT ' || coalesce(charges.cpt_code, '-') as revenue_description,
    coalesce(lower(charges.charge_status) = 'voided', false) as is_voided,
    cast(charges.amount as numeric(18, 2)) as amount,
    cast(charges.changed_at as date) as feed_date,
    charges.landed_on as delivered_on,
    cast(charges.changed_at as date) as accounting_date

from charges
