"""Demo data: `flask demo` (supply.generate) and `flask demo --scale` (scale.generate)."""
