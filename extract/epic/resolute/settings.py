"""The Epic Resolute HB/PB journal feed: its name, dataset, file naming and the columns we rely
on.

Two kinds of file arrive: the daily journal (`resolute_journal_YYYYMMDD`, the lines posted that
day) and restatements (`resolute_restatement_YYYYMMDD`, the current state of journal lines posted
on earlier days that changed since: re-coded, amounts fixed, or voided).
"""

import re

import pyarrow as pa

SOURCE = "epic_resolute_journal"
DATASET_LAYER = "raw_epic"
TABLE = "resolute_journal_lines"
FILE_PATTERN = re.compile(r"^resolute_(journal|restatement)_(\d{8})\.parquet$")
DAILY, RESTATEMENT = "journal", "restatement"

# Optional in the files (a daily line is active unless it says otherwise); always landed.
RECORD_STATUS = "RECORD_STATUS"
RECORD_STATUSES = ("ACTIVE", "VOIDED")
DELIVERED_ON = "DELIVERED_ON"  # the file's day: which delivery holds a line's latest version

FEED_SCHEMA = pa.schema(
    [
        ("JOURNAL_LINE_ID", pa.int64()),
        ("JOURNAL_ID", pa.string()),
        ("BILLING_SYSTEM", pa.string()),
        ("POST_DATE", pa.date32()),
        ("GL_DATE", pa.date32()),
        ("FACILITY_ID", pa.string()),
        ("DEPARTMENT_ID", pa.string()),
        ("GL_ACCOUNT", pa.string()),
        ("REVENUE_CODE", pa.string()),
        ("TX_TYPE", pa.string()),
        ("TX_ID", pa.int64()),
        ("DEBIT_AMOUNT", pa.string()),
        ("CREDIT_AMOUNT", pa.string()),
        ("CURRENCY_CODE", pa.string()),
        ("HSP_ACCOUNT_ID", pa.string()),
        ("PAT_MRN_ID", pa.string()),
        ("PAT_NAME", pa.string()),
        ("LINE_DESCRIPTION", pa.string()),
    ]
)
