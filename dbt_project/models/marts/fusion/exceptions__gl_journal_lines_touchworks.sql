{{ journal_exceptions(ref('int_touchworks__journal_lines_validated')) }}
