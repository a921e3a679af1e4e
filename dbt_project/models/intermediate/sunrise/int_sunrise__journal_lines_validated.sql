{{ config(materialized='table') }}

{{
    journal_lines_validated(
        ref('int_sunrise__journal_lines_mapped_to_coa'),
        ref('stg_ops__sunrise_posted_lines'),
    )
}}
