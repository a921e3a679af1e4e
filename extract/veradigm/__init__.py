"""Veradigm sources: one package per source system (`touchworks`, `practice_fusion`, `unity`);
what the two API extracts share (record contracts, reports, dead letters) is in `helpers`."""
