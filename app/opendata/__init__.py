"""Open data in and out: CSV directory import, HSDS 3.1 export, unmet-requests report."""
