{{ config(materialized='table') }}

{{
    journal_line_deltas(
        ref('int_touchworks__journal_lines_validated'),
        ref('stg_ops__touchworks_posted_lines'),
    )
}}
