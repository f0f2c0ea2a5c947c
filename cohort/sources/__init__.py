"""Sources: one module per source kind, a base class and a registry dict (see ``base``)."""
