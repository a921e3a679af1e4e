{{
    gl_interface(
        ref('int_journal_line_deltas'),
        ref('int_journal_lines_validated'),
        batch_name='EPIC RESOLUTE',
        batch_description='Epic Resolute HB/PB journal feed of',
    )
}}
