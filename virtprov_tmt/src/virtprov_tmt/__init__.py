"""tmt's ``provision: how: virtprov`` plugin."""
