{% macro journal_lines_mapped_to_cpt(lines, source_system) %}

-- Ambulatory journal lines with their Fusion segments, facility and GL period: the revenue line
-- through cpt_gl_crosswalk (source system + location + CPT code, an exact location row winning
-- over '*'), the receivable line through coa_crosswalk's facility-wide row of the facility the
-- revenue row names (else the charge's own facility, where the source has one). Both
-- crosswalks are effective-dated on the accounting date. Unmapped lines keep null segments
-- (never a default): the journal chain holds their entry as an exception.

with

lines as (

    select * from {{ lines }}

),

cpt_crosswalk as (

    select * from {{ ref('cpt_gl_crosswalk') }}
    where source_system = '{{ source_system }}'

),

coa_crosswalk as (

    select * from {{ ref('coa_crosswalk') }}
    where department_id = '*'

),

calendar as (

    {{ ledger_calendar_days() }}

),

-- Per entry: its CPT code's revenue mapping at the location on the accounting date.
revenue as (

    select
        lines.journal_id,
        coalesce(exact.facility_id, any_location.facility_id) as facility_id,
        coalesce(exact.company, any_location.company) as revenue_company,
        coalesce(exact.cost_center, any_location.cost_center) as revenue_cost_center,
        coalesce(exact.account, any_location.account) as revenue_account,
        coalesce(exact.sub_account, any_location.sub_account) as revenue_sub_account,
        coalesce(exact.intercompany, any_location.intercompany) as revenue_intercompany,
        coalesce(exact.future, any_location.future) as revenue_future

    from lines

    left join cpt_crosswalk as exact
        on
            lines.location_id = exact.location_id
            and lines.cpt_code = exact.cpt_code
            and lines.accounting_date >= exact.valid_from
            and (exact.valid_to is null or lines.accounting_date <= exact.valid_to)

    left join cpt_crosswalk as any_location
        on
            any_location.location_id = '*'
            and lines.cpt_code = any_location.cpt_code
            and lines.accounting_date >= any_location.valid_from
            and (any_location.valid_to is null or lines.accounting_date <= any_location.valid_to)

    where lines.side = 1

),

mapped as (

    select
        lines.source_line_id,
        lines.journal_id,
        lines.side,
        lines.source_transaction_id,
        lines.hospital_account_reference,
        lines.patient_reference,
        lines.patient_pseudonym,
        lines.billing_system,
        lines.transaction_type,
        coalesce(revenue.facility_id, lines.source_facility_id) as facility_id,
        -- the location the CPT crosswalk is keyed by, where finance looks for a missing row
        lines.location_id as department_id,
        lines.location_id,
        lines.cpt_code,
        lines.source_account,
        lines.revenue_code,
        lines.currency_code,
        lines.line_description,
        lines.record_status,
        lines.is_voided,
        lines.source_file,
        lines.debit_amount_text,
        lines.credit_amount_text,
        lines.debit_amount,
        lines.credit_amount,
        lines.amount_status,
        lines.feed_date,
        lines.delivered_on,
        lines.accounting_date,
        case when lines.side = 1 then revenue.revenue_company else receivable.company end
            as fusion_company,
        case when lines.side = 1 then revenue.revenue_cost_center else receivable.cost_center end
            as fusion_cost_center,
        case when lines.side = 1 then revenue.revenue_account else receivable.account end
            as fusion_account,
        case when lines.side = 1 then revenue.revenue_sub_account else receivable.sub_account end
            as fusion_sub_account,
        case when lines.side = 1 then revenue.revenue_intercompany else receivable.intercompany end
            as fusion_intercompany,
        case when lines.side = 1 then revenue.revenue_future else receivable.future end
            as fusion_future

    from lines

    left join revenue
        on lines.journal_id = revenue.journal_id

    left join coa_crosswalk as receivable
        on
            lines.side = 0
            and coalesce(revenue.facility_id, lines.source_facility_id) = receivable.facility_id
            and lines.source_account = receivable.source_account
            and lines.accounting_date >= receivable.valid_from
            and (receivable.valid_to is null or lines.accounting_date <= receivable.valid_to)

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

{% endmacro %}
