{{
    gl_interface(
        ref('int_unity__journal_line_deltas'),
        ref('int_unity__journal_lines_validated'),
        batch_name='UNITY CHARGES',
        batch_description='Veradigm Unity charges landed on',
    )
}}
