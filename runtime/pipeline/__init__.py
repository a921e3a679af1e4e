"""One domain run and what it drives: the opened domain, extract and dbt build, the delivery of
its batches to Fusion (delivery/), the posted state, locks and the run ledger, the disclosure
entries a run writes, `plan` and `reload`."""
