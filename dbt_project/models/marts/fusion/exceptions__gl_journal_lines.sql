{{ journal_exceptions(ref('int_journal_lines_validated')) }}
