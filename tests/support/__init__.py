"""Test helpers shared across tiers: services, server processes, flows."""
