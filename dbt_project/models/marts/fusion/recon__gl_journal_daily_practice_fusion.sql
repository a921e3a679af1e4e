{{
    journal_recon_daily(
        ref('int_practice_fusion__journal_lines_validated'),
        ref('stg_ops__practice_fusion_posted_lines'),
        ref('fusion__gl_interface_practice_fusion'),
    )
}}
