{{
    closed_period_corrections(
        ref('int_journal_lines_validated'),
        ref('int_journal_line_deltas'),
    )
}}
