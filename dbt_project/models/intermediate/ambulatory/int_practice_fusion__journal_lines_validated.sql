{{ config(materialized='table') }}

{{
    journal_lines_validated(
        ref('int_practice_fusion__journal_lines_mapped_to_coa'),
        ref('stg_ops__practice_fusion_posted_lines'),
    )
}}
