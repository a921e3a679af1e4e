"""The accounting of disclosures: the log in the warehouse with its hash chain and mirror
file, verify and purge, per-patient reports, RFC 5424 forwarding."""
