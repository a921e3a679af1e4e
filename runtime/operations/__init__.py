"""Running ehrfusion on a schedule and on a laptop: cadences, the tick fan-out, status, the
demo."""
