"""Prometheus metrics per tenant/stream/domain: the per-domain textfile, the Pushgateway, the
`/metrics` server and the observer the retry policy and rate limiter report through."""
