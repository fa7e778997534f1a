"""What local users do: actions that change state (and, with federation, queue deliveries)."""
