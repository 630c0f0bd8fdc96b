"""Documents: invoices, credit notes and packing slips rendered to PDF and kept in object storage."""
