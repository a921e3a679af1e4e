{{
    journal_recon_daily(
        ref('int_journal_lines_validated'),
        ref('stg_ops__fusion_posted_lines'),
        ref('fusion__gl_interface'),
    )
}}
