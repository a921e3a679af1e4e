"""Exit codes of the `ehrfusion` command, documented in the README for schedulers."""

OK = 0
FAILED = 1
CONFIG_ERROR = 2
QUALITY_GATE_FAILED = 3
EXPORT_CONFLICT = 4
AUDIT_BROKEN = 5  # the disclosure log's chain is broken, or the two copies disagree
SUBMIT_INCOMPLETE = 6  # batches uploaded but not finished in Fusion (unreachable, job running)
UNEXPLAINED_DRIFT = 7  # reconcile: source and Fusion differ by something no category explains
LINES_STILL_OPEN = 8  # queue reload: some lines are still held or were rejected again
RELOAD_REFUSED = 9  # queue reload: nothing to reload (see the message); nothing ran
PLAN_CHANGED = 10  # run --expect-plan: the run would post something else; nothing exported
EXTRACT_INCOMPLETE = 11  # a source stopped early (API down); what landed is kept, nothing exported
LOCKED = 75  # EX_TEMPFAIL: another run holds the domain's lock; try later

BY_STATUS = {
    "ok": OK,
    "quality_gate_failed": QUALITY_GATE_FAILED,
    "export_conflict": EXPORT_CONFLICT,
    "submit_incomplete": SUBMIT_INCOMPLETE,
    "plan_changed": PLAN_CHANGED,
    "extract_incomplete": EXTRACT_INCOMPLETE,
    "locked": LOCKED,
}
