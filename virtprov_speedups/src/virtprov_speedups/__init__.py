"""Optional compiled parts of virtprov: install ``virtprov[speedups]``; nothing imports
this package but virtprov itself, which works the same (slower) without it."""
