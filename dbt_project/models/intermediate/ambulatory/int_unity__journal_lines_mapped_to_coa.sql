{{ journal_lines_mapped_to_cpt(ref('int_unity__charge_journal_lines'), 'unity') }}
