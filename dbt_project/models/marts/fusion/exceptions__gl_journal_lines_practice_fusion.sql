{{ journal_exceptions(ref('int_practice_fusion__journal_lines_validated')) }}
