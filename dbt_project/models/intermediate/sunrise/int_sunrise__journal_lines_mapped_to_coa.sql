{{ journal_lines_mapped_to_coa(ref('int_sunrise__charge_journal_lines')) }}
