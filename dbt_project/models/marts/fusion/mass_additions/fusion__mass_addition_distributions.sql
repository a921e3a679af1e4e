-- The distribution of each mass addition the domain sends (FaMassaddDistributions.csv): its
-- units at the asset's facility and department, depreciation charged to the department's
-- company and cost centre on the category's depreciation expense account.

with

additions as (

    select * from {{ ref('int_mass_addition_outcomes') }}
    where {{ in_this_domain() }} and outcome = 'add'

),

distributions as (

    select
        additions.stream_name,
        additions.domain_name,
        additions.batch_date,

        -- FaMassaddDistributions.csv
        additions.mass_addition_id,
        additions.units,
        additions.facility_id as location_segment1,
        additions.department_id as location_segment2,
        'MAIN' as location_segment3,
        additions.company as deprn_expense_segment1,
        additions.cost_center as deprn_expense_segment2,
        additions.deprn_expense_account as deprn_expense_segment3,
        '000' as deprn_expense_segment4,
        '000' as deprn_expense_segment5,
        '0000' as deprn_expense_segment6

    from additions

)

select * from distributions
