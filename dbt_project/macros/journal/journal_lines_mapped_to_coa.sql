{% macro journal_lines_mapped_to_coa(lines) %}

-- Resolute journal lines with their Fusion segment combination and GL period.
-- The crosswalk is effective-dated on the accounting date; a row for the exact department
-- wins over the facility-wide '*' row. Unmapped lines keep null segments (never a default).

with

lines as (

    select * from {{ lines }}

),

crosswalk as (

    select * from {{ ref('coa_crosswalk') }}

),

calendar as (

    {{ ledger_calendar_days() }}

),

mapped as (

    select
        lines.*,
        coalesce(exact.company, facility_wide.company) as fusion_company,
        coalesce(exact.cost_center, facility_wide.cost_center) as fusion_cost_center,
        coalesce(exact.account, facility_wide.account) as fusion_account,
        coalesce(exact.sub_account, facility_wide.sub_account) as fusion_sub_account,
        coalesce(exact.intercompany, facility_wide.intercompany) as fusion_intercompany,
        coalesce(exact.future, facility_wide.future) as fusion_future

    from lines

    left join crosswalk as exact
        on
            lines.facility_id = exact.facility_id
            and lines.department_id = exact.department_id
            and lines.source_account = exact.source_account
            and lines.accounting_date >= exact.valid_from
            and (exact.valid_to is null or lines.accounting_date <= exact.valid_to)

    left join crosswalk as facility_wide
        on
            lines.facility_id = facility_wide.facility_id
            and facility_wide.department_id = '*'
            and lines.source_account = facility_wide.source_account
            and lines.accounting_date >= facility_wide.valid_from
            and (facility_wide.valid_to is null or lines.accounting_date <= facility_wide.valid_to)

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
