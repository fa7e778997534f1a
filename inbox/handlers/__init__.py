"""One small module per activity type; importing this package registers them all."""
