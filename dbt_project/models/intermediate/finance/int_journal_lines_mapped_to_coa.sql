{{ journal_lines_mapped_to_coa(ref('stg_epic__resolute_journal_lines')) }}
