{{ journal_exceptions(ref('int_sunrise__journal_lines_validated')) }}
