{{
    closed_period_corrections(
        ref('int_touchworks__journal_lines_validated'),
        ref('int_touchworks__journal_line_deltas'),
    )
}}
