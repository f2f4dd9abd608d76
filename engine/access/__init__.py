"""Who acts: actors, accounts and roles, integration API clients, and the rule of who may act on a work item."""
