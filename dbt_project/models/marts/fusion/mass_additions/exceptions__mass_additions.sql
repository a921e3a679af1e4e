-- The domain's assets not sent to Fusion Assets, with the reason: held back before their
-- addition (the source's own reason; category, cost, date or department unmapped or missing;
-- below the category's capitalization threshold, which is informational), changed after Fusion
-- accepted their addition (finance adjusts the asset in Fusion; it is never sent again), or
-- deleted at the source after their addition (finance decides whether to retire the asset).

with

outcomes as (

    select * from {{ ref('int_mass_addition_outcomes') }}
    where {{ in_this_domain() }} and outcome = 'exception'

)

select
    outcomes.stream_name,
    outcomes.domain_name,
    outcomes.batch_date,
    outcomes.record_key,
    outcomes.asset_tag,
    outcomes.asset_description,
    outcomes.facility_id,
    outcomes.department_id,
    outcomes.acquisition_cost,
    outcomes.acquired_on,
    outcomes.capitalization_threshold,
    outcomes.outcome_reason as exception_reason

from outcomes
