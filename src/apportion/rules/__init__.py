"""Allocation rules: which cost lines a rule matches, and how it splits them."""
