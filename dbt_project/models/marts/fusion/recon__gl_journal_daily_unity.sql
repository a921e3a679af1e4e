{{
    journal_recon_daily(
        ref('int_unity__journal_lines_validated'),
        ref('stg_ops__unity_posted_lines'),
        ref('fusion__gl_interface_unity'),
    )
}}
