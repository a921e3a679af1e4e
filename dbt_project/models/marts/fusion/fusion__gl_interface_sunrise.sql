{{
    gl_interface(
        ref('int_sunrise__journal_line_deltas'),
        ref('int_sunrise__journal_lines_validated'),
        batch_name='SUNRISE CHARGES',
        batch_description='Allscripts Sunrise charges landed on',
    )
}}
