{{ config(materialized='table') }}

{{
    journal_line_deltas(
        ref('int_journal_lines_validated'),
        ref('stg_ops__fusion_posted_lines'),
    )
}}
