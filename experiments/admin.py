import experiments.prompt_admin  # noqa: F401  (prompt versions and their diff live in their own module)
