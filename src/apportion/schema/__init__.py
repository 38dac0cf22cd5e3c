"""The one place that names every column apportion reads or writes."""
