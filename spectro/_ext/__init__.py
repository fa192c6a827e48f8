"""Optional compiled helpers. Each has a pure-numpy fallback; nothing requires a compiler."""
