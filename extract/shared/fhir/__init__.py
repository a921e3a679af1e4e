"""What every FHIR R4 source shares: SMART Backend Services authorization (`auth.py`), the
one client with paging and incremental reads (`client.py`), R4 structural validation
(`validation.py`) and a dlt resource per resource type landing what it reads (`source.py`)."""
