"""Economics: costing, cost–benefit and sensitivity analysis (built in a later step)."""
