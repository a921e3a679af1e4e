-- Records Fusion accepted for this stream and domain: what each was last sent as (its values'
-- hash) and, for quantities, what it changed. Record marts compare the source's current
-- state with these to send only what Fusion does not hold yet.

with

records as (

    select * from {{ source('ehrfusion_ops', 'fusion_records') }}
    where
        stream = {{ setting_literal('EHRFUSION_STREAM') }}
        and domain = {{ setting_literal('EHRFUSION_DOMAIN') }}

)

select
    records.batch_id,
    records.batch_date,
    records.record_key,
    records.record_hash,
    records.measure,
    records.accepted_at

from records
