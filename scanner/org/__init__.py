"""The org-wide scan (issue 8): select, fetch, scan with the one `scan()`, deliver."""
