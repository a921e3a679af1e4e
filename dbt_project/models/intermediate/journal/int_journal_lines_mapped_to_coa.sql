{{ config(materialized='ephemeral') }}

-- Journal lines with their Fusion segment combination, facility and GL period. Both crosswalks
-- are effective-dated on the accounting date; unmapped lines keep null segments (never a
-- default account), and the chain holds their entry as an exception.
--   A revenue line a source maps by CPT code (cpt_crosswalk_system set) takes the segments of
--   cpt_gl_crosswalk's row for its system, location (department_id) and code, an exact
--   location row winning over '*'; that row also names the facility of the whole entry.
--   Every other line maps through coa_crosswalk on its facility, department and source
--   account, a row for the exact department winning over the facility-wide '*' row.

with

lines as (

    select * from {{ ref('int_journal_lines') }}

),

coa_crosswalk as (

    select * from {{ ref('coa_crosswalk') }}

),

cpt_crosswalk as (

    select * from {{ ref('cpt_gl_crosswalk') }}

),

calendar as (

    {{ ledger_calendar_days() }}

),

-- Per CPT-mapped line: its revenue row (exact location, else the system's '*' row).
by_cpt as (

    select
        lines.source_line_id,
        lines.journal_id,
        coalesce(exact.facility_id, any_location.facility_id) as facility_id,
        coalesce(exact.company, any_location.company) as cpt_company,
        coalesce(exact.cost_center, any_location.cost_center) as cpt_cost_center,
        coalesce(exact.account, any_location.account) as cpt_account,
        coalesce(exact.sub_account, any_location.sub_account) as cpt_sub_account,
        coalesce(exact.intercompany, any_location.intercompany) as cpt_intercompany,
        coalesce(exact.future, any_location.future) as cpt_future

    from lines

    left join cpt_crosswalk as exact
        on
            lines.cpt_crosswalk_system = exact.source_system
            and lines.department_id = exact.location_id
            and lines.cpt_code = exact.cpt_code
            and lines.accounting_date >= exact.valid_from
            and (exact.valid_to is null or lines.accounting_date <= exact.valid_to)

    left join cpt_crosswalk as any_location
        on
            lines.cpt_crosswalk_system = any_location.source_system
            and any_location.location_id = '*'
            and lines.cpt_code = any_location.cpt_code
            and lines.accounting_date >= any_location.valid_from
            and (any_location.valid_to is null or lines.accounting_date <= any_location.valid_to)

    where lines.cpt_crosswalk_system is not null

),

-- The facility the CPT crosswalk names for an entry, where it names one.
entry_facilities as (

    select
        journal_id,
        max(facility_id) as facility_id

    from by_cpt
    group by journal_id

),

located as (

    select
        lines.*,
        coalesce(entry_facilities.facility_id, lines.facility_id) as mapped_facility_id

    from lines

    left join entry_facilities
        on lines.journal_id = entry_facilities.journal_id

),

mapped as (

    select
        located.data_source,
        located.stream_name,
        located.domain_name,
        located.source_line_id,
        located.journal_id,
        located.source_transaction_id,
        located.hospital_account_reference,
        located.patient_reference,
        located.patient_pseudonym,
        located.billing_system,
        located.transaction_type,
        located.mapped_facility_id as facility_id,
        located.department_id,
        located.source_account,
        located.revenue_code,
        located.cpt_code,
        located.cpt_crosswalk_system,
        located.currency_code,
        located.line_description,
        located.record_status,
        located.is_voided,
        located.source_file,
        located.debit_amount_text,
        located.credit_amount_text,
        located.debit_amount,
        located.credit_amount,
        located.amount_status,
        located.feed_date,
        located.delivered_on,
        -- the six segments: by CPT code where the line says so, else the exact department's
        -- row or the facility-wide one
        {%- for segment in ['company', 'cost_center', 'account', 'sub_account', 'intercompany', 'future'] %}
            case
                when located.cpt_crosswalk_system is not null
                    then coalesce(cpt_exact.{{ segment }}, cpt_any_location.{{ segment }})
                else coalesce(exact.{{ segment }}, facility_wide.{{ segment }})
            end as fusion_{{ segment }},
        {%- endfor %}
        located.accounting_date

    from located

    -- the CPT rows again, as by_cpt found them: joining the small seed to the lines keeps the
    -- lines on the probe side (joining by_cpt back by line id hashed every line)
    left join cpt_crosswalk as cpt_exact
        on
            located.cpt_crosswalk_system = cpt_exact.source_system
            and located.department_id = cpt_exact.location_id
            and located.cpt_code = cpt_exact.cpt_code
            and located.accounting_date >= cpt_exact.valid_from
            and (cpt_exact.valid_to is null or located.accounting_date <= cpt_exact.valid_to)

    left join cpt_crosswalk as cpt_any_location
        on
            located.cpt_crosswalk_system = cpt_any_location.source_system
            and cpt_any_location.location_id = '*'
            and located.cpt_code = cpt_any_location.cpt_code
            and located.accounting_date >= cpt_any_location.valid_from
            and (
                cpt_any_location.valid_to is null
                or located.accounting_date <= cpt_any_location.valid_to
            )

    left join coa_crosswalk as exact
        on
            located.cpt_crosswalk_system is null
            and located.mapped_facility_id = exact.facility_id
            and located.department_id = exact.department_id
            and located.source_account = exact.source_account
            and located.accounting_date >= exact.valid_from
            and (exact.valid_to is null or located.accounting_date <= exact.valid_to)

    left join coa_crosswalk as facility_wide
        on
            located.cpt_crosswalk_system is null
            and located.mapped_facility_id = facility_wide.facility_id
            and facility_wide.department_id = '*'
            and located.source_account = facility_wide.source_account
            and located.accounting_date >= facility_wide.valid_from
            and (
                facility_wide.valid_to is null
                or located.accounting_date <= facility_wide.valid_to
            )

),

with_period as (

    select
        mapped.*,
        calendar.ledger_name,
        calendar.period_name,
        calendar.closing_status as period_status

    from mapped

    left join calendar
        on mapped.accounting_date = calendar.calendar_day

)

select * from with_period
