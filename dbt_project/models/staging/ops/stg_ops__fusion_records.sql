{{
    config(
        materialized='domain_rows',
        post_hook="{{ analyze_this() }}",
        tags=['inv_transactions', 'mass_additions', 'workers'],
    )
}}

-- Records Fusion accepted for this stream and domain: what each was last sent as (its values'
-- hash) and, for quantities, what it changed. Record marts compare the source's current state
-- with these to send only what Fusion does not hold yet. Copied per domain build, rows apart by
-- stream and domain like every model the record objects' domains share.

with

records as (

    select * from {{ source('ehrfusion_ops', 'fusion_records') }}
    where
        stream = {{ setting_literal('EHRFUSION_STREAM') }}
        and domain = {{ setting_literal('EHRFUSION_DOMAIN') }}

)

select
    records.stream as stream_name,
    records.domain as domain_name,
    records.batch_id,
    records.batch_date,
    records.record_key,
    records.record_hash,
    records.measure,
    records.accepted_at

from records
