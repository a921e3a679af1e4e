{{
    gl_interface(
        ref('int_practice_fusion__journal_line_deltas'),
        ref('int_practice_fusion__journal_lines_validated'),
        batch_name='PRACTICE FUSION CHARGES',
        batch_description='Practice Fusion charges landed on',
    )
}}
