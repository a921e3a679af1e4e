"""How a domain's batches reach Fusion: one protocol (protocol.py) every Fusion object's
delivery implements (journal.py for GL journals, records.py for record objects), chosen per
domain by kinds.py; the run (runtime/pipeline/run.py) drives it without knowing the kind."""
