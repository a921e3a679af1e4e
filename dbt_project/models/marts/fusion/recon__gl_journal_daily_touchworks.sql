{{
    journal_recon_daily(
        ref('int_touchworks__journal_lines_validated'),
        ref('stg_ops__touchworks_posted_lines'),
        ref('fusion__gl_interface_touchworks'),
    )
}}
