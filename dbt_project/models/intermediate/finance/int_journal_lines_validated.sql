{{ config(materialized='table') }}

{{
    journal_lines_validated(
        ref('int_journal_lines_mapped_to_coa'),
        ref('stg_ops__fusion_posted_lines'),
    )
}}
