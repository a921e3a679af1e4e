{{ journal_lines_mapped_to_cpt(ref('int_touchworks__charge_journal_lines'), 'touchworks') }}
