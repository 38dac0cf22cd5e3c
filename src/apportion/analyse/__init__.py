"""Analysis over the allocated data: unit economics (cost per decision beside value) first;
reviews, forecasts, anomalies, commitments, playbooks, projections and maturity follow."""
