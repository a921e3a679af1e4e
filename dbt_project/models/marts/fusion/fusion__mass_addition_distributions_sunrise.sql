-- The distribution of each Sunrise mass addition (FaMassaddDistributions.csv): the whole
-- device at its facility and department, depreciation charged to the department's company
-- and cost centre on the category's depreciation expense account.

with

additions as (

    select * from {{ ref('int_sunrise__device_additions') }}
    where outcome = 'add'

),

distributions as (

    select
        additions.batch_date,

        -- FaMassaddDistributions.csv
        additions.mass_addition_id,
        1 as units,
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
