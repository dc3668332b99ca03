"""Every write to the state goes through these functions: API, admin, commands and workers."""
