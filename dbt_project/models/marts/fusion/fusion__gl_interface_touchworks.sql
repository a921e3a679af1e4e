{{
    gl_interface(
        ref('int_touchworks__journal_line_deltas'),
        ref('int_touchworks__journal_lines_validated'),
        batch_name='TOUCHWORKS CHARGES',
        batch_description='Veradigm TouchWorks charges landed on',
    )
}}
