{{ journal_lines_mapped_to_cpt(ref('int_practice_fusion__charge_journal_lines'), 'practice_fusion') }}
