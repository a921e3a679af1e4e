"""What every API source shares: the rate limiter and OAuth2 client-credentials sessions.

Retries are `runtime.http`'s one policy; the dead-letter store is `extract.dead_letter`.
"""
