"""The FHIR R4 stand-in: SMART Backend Services tokens, tenant-scoped searches with paging,
and deterministic resources for two health systems (`world.py`, `server.py`)."""
