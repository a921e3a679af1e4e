"""Stand-in for the Allscripts/Altera Sunrise database (SQL Server with CDC, or CDC off)."""
