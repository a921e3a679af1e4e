"""What every layer stands on: the configuration and the source catalog, secrets and
endpoints, the warehouse, the PHI key and pseudonym, the one retry policy, the journal chain's
relations and each domain's catalog target, errors and exit codes. Imports nothing else of
runtime/."""
