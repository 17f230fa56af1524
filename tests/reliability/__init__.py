"""Reliability and safety tests: fuzzed recipes and data, kill-and-resume, broken plugins, safe loading."""
