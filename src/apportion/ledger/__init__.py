"""The ledger: a period's life (open, allocated, in review, closed), its statements, closings,
journal, disputes and adjustments, kept in the control plane (apportion.control)."""
