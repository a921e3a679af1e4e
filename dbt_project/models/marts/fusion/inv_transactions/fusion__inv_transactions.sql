-- Supply consumptions for Fusion inventory transaction import, one batch per run of the domain:
-- what each consumption still changes in Fusion's stock. A consumption Fusion has not seen, or
-- whose quantity went up, is issued (negative quantity); one whose quantity went down is partly
-- received back (positive quantity), one deleted at the source wholly. Built only with its
-- batch reconciliation.
-- depends_on: {{ ref('int_inv_transactions_reconciled') }}

with

deltas as (

    select * from {{ ref('int_inv_transaction_deltas') }}
    where {{ in_this_domain() }} and delta_quantity <> 0

),

transactions as (

    select
        deltas.stream_name,
        deltas.domain_name,

        -- the record Fusion accepts
        deltas.batch_date,
        deltas.record_key,
        deltas.record_hash,
        deltas.delta_quantity as measure,

        -- InvTransactionsInterface.csv
        deltas.organization_name,
        '1' as process_flag,
        deltas.item_number,
        deltas.subinventory_code,
        cast(-deltas.delta_quantity as numeric(18, 4)) as transaction_quantity,
        deltas.transaction_uom,
        deltas.consumed_on as transaction_date,
        case
            when deltas.delta_quantity > 0 then 'Miscellaneous Issue'
            else 'Miscellaneous Receipt'
        end as transaction_type_name,
        {{ setting_literal('EHRFUSION_INV_SOURCE_CODE') }} as source_code,
        -- source line + header: the consumption and its transaction number, unique in Fusion
        deltas.transaction_number as source_header_id,
        deltas.source_line_id,
        '3' as transaction_mode,
        deltas.transaction_reference,
        deltas.dst_segment1,
        deltas.dst_segment2,
        deltas.dst_segment3,
        deltas.dst_segment4,
        deltas.dst_segment5,
        deltas.dst_segment6

    from deltas

)

select * from transactions
