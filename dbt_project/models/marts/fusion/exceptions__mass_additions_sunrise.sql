-- Sunrise medical devices not sent to Fusion Assets, with the reason: held back before their
-- addition (tag, category, cost, date or department unmapped or missing; below the category's
-- capitalization threshold, which is informational), changed after Fusion accepted their
-- addition (finance adjusts the asset in Fusion; it is never sent again), or deleted in Sunrise
-- after their addition (finance decides whether to retire the asset in Fusion).

with

additions as (

    select * from {{ ref('int_sunrise__device_additions') }}
    where outcome = 'exception'

)

select
    additions.batch_date,
    additions.asset_tag,
    additions.asset_description,
    additions.facility_id,
    additions.department_id,
    additions.acquisition_cost,
    additions.acquired_on,
    additions.capitalization_threshold,
    additions.outcome_reason as exception_reason

from additions
