"""Provider interface, factory and presets, caching, rate limits, cost and budgets, fallback."""
