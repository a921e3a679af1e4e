{{ config(materialized='table') }}

{{
    journal_line_deltas(
        ref('int_sunrise__journal_lines_validated'),
        ref('stg_ops__sunrise_posted_lines'),
    )
}}
