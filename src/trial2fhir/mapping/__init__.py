"""The mapping engine: YAML mapping files (``mappings/``) applied forward and in reverse."""
