{{ config(materialized='table') }}

{{
    journal_line_deltas(
        ref('int_practice_fusion__journal_lines_validated'),
        ref('stg_ops__practice_fusion_posted_lines'),
    )
}}
