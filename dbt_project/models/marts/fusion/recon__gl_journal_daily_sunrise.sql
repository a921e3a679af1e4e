{{
    journal_recon_daily(
        ref('int_sunrise__journal_lines_validated'),
        ref('stg_ops__sunrise_posted_lines'),
        ref('fusion__gl_interface_sunrise'),
    )
}}
