-- Per batch of the domain: every asset is added, already held by Fusion, held back as an
-- exception, or was deleted at the source before Fusion accepted it.

with

assets as (

    select * from {{ ref('int_mass_additions_mapped') }}
    where {{ in_this_domain() }}

),

outcomes as (

    select * from {{ ref('int_mass_addition_outcomes') }}
    where {{ in_this_domain() }}

),

source_counts as (

    select
        stream_name,
        domain_name,
        batch_date,
        count(*) as source_assets

    from assets

    group by stream_name, domain_name, batch_date

),

outcome_counts as (

    select
        batch_date,
        count(case when outcome = 'add' then 1 end) as added_assets,
        count(case when outcome = 'unchanged' then 1 end) as unchanged_assets,
        count(case when outcome = 'exception' then 1 end) as exception_assets,
        count(case when outcome = 'deleted' then 1 end) as deleted_assets

    from outcomes

    group by batch_date

)

select
    source_counts.stream_name,
    source_counts.domain_name,
    source_counts.batch_date,
    source_counts.source_assets,
    coalesce(outcome_counts.added_assets, 0) as added_assets,
    coalesce(outcome_counts.unchanged_assets, 0) as unchanged_assets,
    coalesce(outcome_counts.exception_assets, 0) as exception_assets,
    coalesce(outcome_counts.deleted_assets, 0) as deleted_assets

from source_counts

left join outcome_counts
    on source_counts.batch_date = outcome_counts.batch_date
