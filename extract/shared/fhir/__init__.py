"""What every FHIR R4 source shares: SMART Backend Services authorization (`auth.py`), the
one client with paging and incremental reads (`client.py`) and R4 structural validation
(`validation.py`)."""
