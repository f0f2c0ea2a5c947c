"""The sandbox: the synthetic cohort generator (and, later, a REDCap-API-compatible server)."""
