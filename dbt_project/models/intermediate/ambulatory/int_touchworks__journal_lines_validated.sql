{{ config(materialized='table') }}

{{
    journal_lines_validated(
        ref('int_touchworks__journal_lines_mapped_to_coa'),
        ref('stg_ops__touchworks_posted_lines'),
    )
}}
