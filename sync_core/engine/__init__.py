"""The engine every pipeline runs on: registry, connections, plan, ledger, links, failures, runs, leases."""
