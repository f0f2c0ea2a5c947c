"""Privacy controls of a project: consent withdrawal, retention, the access log, the privacy inventory."""
