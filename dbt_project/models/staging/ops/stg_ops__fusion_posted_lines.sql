{{
    config(
        materialized='domain_rows',
        post_hook="{{ analyze_this() }}",
        tags=['journal_chain'],
    )
}}

-- Lines Fusion accepted for this stream and domain, with what the accepted file said.

with

posted as (

    select * from {{ source('ehrfusion_ops', 'fusion_posted') }}

),

submissions as (

    select
        batch_id,
        stream,
        domain

    from {{ source('ehrfusion_ops', 'fusion_submissions') }}
    where
        stream = {{ setting_literal('EHRFUSION_STREAM') }}
        and domain = {{ setting_literal('EHRFUSION_DOMAIN') }}

)

select
    submissions.stream as stream_name,
    submissions.domain as domain_name,
    posted.batch_id,
    posted.batch_date,
    posted.line_number,
    posted.source_line_id,
    posted.line_kind,
    posted.accounting_date,
    posted.currency_code,
    posted.segment1,
    posted.segment2,
    posted.segment3,
    posted.segment4,
    posted.segment5,
    posted.segment6,
    posted.entered_dr,
    posted.entered_cr

from posted

inner join submissions
    on posted.batch_id = submissions.batch_id
