{{ journal_exceptions(ref('int_unity__journal_lines_validated')) }}
