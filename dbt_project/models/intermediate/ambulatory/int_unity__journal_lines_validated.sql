{{ config(materialized='table') }}

{{
    journal_lines_validated(
        ref('int_unity__journal_lines_mapped_to_coa'),
        ref('stg_ops__unity_posted_lines'),
    )
}}
