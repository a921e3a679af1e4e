"""What people read: the run summary, the finance review page and the monthly reconciliation
pack (warehouse reads without PHI, charts, HTML and CSV)."""
