"""What every source shares: the rate limiter and OAuth2 client-credentials sessions (API
sources), the SQL change reader (`sql_changes`), and the one place a dlt load into the
warehouse is built (`landing`).

Retries are `runtime.core.http`'s one policy; the dead-letter store is `extract.dead_letter`.
"""
