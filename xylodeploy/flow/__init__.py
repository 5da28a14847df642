"""The flow: compile (one line per stage), validate (every stage on the same clips), pipeline and its report."""
