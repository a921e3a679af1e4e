"""Allscripts / Altera sources."""
