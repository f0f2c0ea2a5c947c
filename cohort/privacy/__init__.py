"""Privacy controls of the project directory: consent withdrawal, retention, encryption, access log."""
