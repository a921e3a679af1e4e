{{
    closed_period_corrections(
        ref('int_practice_fusion__journal_lines_validated'),
        ref('int_practice_fusion__journal_line_deltas'),
    )
}}
