"""The Epic Resolute HB/PB daily journal feed: file naming and the columns we rely on."""

import re

import pyarrow as pa

SOURCE = "epic_resolute_journal"
DATASET_LAYER = "raw_epic"
TABLE = "resolute_journal_lines"
FILE_PATTERN = re.compile(r"^resolute_journal_(\d{8})\.parquet$")

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
