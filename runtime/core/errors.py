"""Error text that is safe to print or log: no values from the data.

Database engines quote the offending value in their messages ("could not convert string
'...'"); those literals are masked, the rest of the message is kept for the operator.
"""

from __future__ import annotations

import re

_QUOTED = re.compile(r"'[^'\n]*'|\"[^\"\n]*\"")


def safe_message(exc: BaseException | str) -> str:
    """The message with quoted literals replaced by '…', prefixed by the error's class."""
    text = exc if isinstance(exc, str) else f"{type(exc).__name__}: {exc}"
    return _QUOTED.sub("'…'", text)
