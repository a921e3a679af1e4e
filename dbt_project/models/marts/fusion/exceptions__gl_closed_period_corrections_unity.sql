{{
    closed_period_corrections(
        ref('int_unity__journal_lines_validated'),
        ref('int_unity__journal_line_deltas'),
    )
}}
