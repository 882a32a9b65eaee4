"""Telemetry from hosts: ingestion, rollups, dashboard metrics, the rollout guard (issue 11)."""
