-- Per batch: every device is added, already held by Fusion, held back as an exception, or was
-- deleted in Sunrise before Fusion accepted it.

with

additions as (

    select * from {{ ref('int_sunrise__device_additions') }}

),

assets as (

    select * from {{ ref('int_sunrise__device_assets') }}

),

source_counts as (

    select
        batch_date,
        count(*) as source_assets

    from assets

    group by batch_date

),

outcome_counts as (

    select
        batch_date,
        count(case when outcome = 'add' then 1 end) as added_assets,
        count(case when outcome = 'unchanged' then 1 end) as unchanged_assets,
        count(case when outcome = 'exception' then 1 end) as exception_assets,
        count(case when outcome = 'deleted' then 1 end) as deleted_assets

    from additions

    group by batch_date

)

select
    source_counts.batch_date,
    source_counts.source_assets,
    coalesce(outcome_counts.added_assets, 0) as added_assets,
    coalesce(outcome_counts.unchanged_assets, 0) as unchanged_assets,
    coalesce(outcome_counts.exception_assets, 0) as exception_assets,
    coalesce(outcome_counts.deleted_assets, 0) as deleted_assets

from source_counts

left join outcome_counts
    on source_counts.batch_date = outcome_counts.batch_date
