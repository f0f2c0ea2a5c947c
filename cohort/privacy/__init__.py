"""Privacy controls of a project: the access log, the privacy inventory."""
