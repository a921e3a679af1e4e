{{ config(materialized='table') }}

{{
    journal_line_deltas(
        ref('int_unity__journal_lines_validated'),
        ref('stg_ops__unity_posted_lines'),
    )
}}
