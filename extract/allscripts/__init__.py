"""Allscripts / Altera sources: one package per source system (`sunrise`, `dbmotion`)."""
