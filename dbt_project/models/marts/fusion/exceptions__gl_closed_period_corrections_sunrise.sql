{{
    closed_period_corrections(
        ref('int_sunrise__journal_lines_validated'),
        ref('int_sunrise__journal_line_deltas'),
    )
}}
